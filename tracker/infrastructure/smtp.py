"""Sending email through an SMTP server, one connection per delivery run.

The outbox (`outbox.py`) decides what to send and when; this only hands messages to the server
named by the `MAIL_*` settings and raises when the server does not take one.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

SMTP_TIMEOUT_SECONDS = 10.0
"""Bounds connecting and each exchange with the server, so a hung server cannot stall a run."""


class SmtpTransport:
    """Hands messages to an SMTP server: STARTTLS or implicit TLS, and login, when configured.

    One connection per delivery run: opened at the first message, reused for the rest, closed by
    `close()` at the end of the run. If the server cannot be reached, the rest of the run's
    messages fail at once with the same error (each row backs off) instead of each waiting for
    its own time-out; the next run tries again.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        use_ssl: bool = False,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ):
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.use_tls, self.use_ssl = use_tls, use_ssl
        self.timeout = timeout
        self._connection: smtplib.SMTP | None = None
        self._unreachable: Exception | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.use_ssl:
            connection = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.use_tls:
                connection.starttls(context=context)
            if self.username:
                connection.login(self.username, self.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def _open(self) -> smtplib.SMTP:
        """The run's connection, opened now if need be; raises if the server is unreachable."""
        if self._unreachable is not None:
            raise ConnectionError(f"not tried, mail server unreachable: {self._unreachable}")
        if self._connection is None:
            try:
                self._connection = self._connect()
            except (OSError, smtplib.SMTPException) as error:
                self._unreachable = error
                raise
        return self._connection

    def send(self, message: EmailMessage, outbox_id: int) -> None:
        """Send one message; raises (and the row backs off) if the server did not accept it."""
        reused = self._connection is not None
        try:
            self._send(message)
        except smtplib.SMTPServerDisconnected:
            # The server dropped the connection (idle time-out, or a per-connection limit):
            # a reused connection gets one fresh try before the message counts as failed.
            if not reused:
                raise
            self._send(message)

    def _send(self, message: EmailMessage) -> None:
        connection = self._open()
        try:
            connection.send_message(message)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused):
            raise  # the server refused this message; smtplib has reset, the connection is fine
        except BaseException:
            self._drop()  # the connection's state is unknown: never reuse it
            raise

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """End the run: say QUIT politely if connected, and forget any unreachable server."""
        connection, self._connection = self._connection, None
        self._unreachable = None
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()

"""Journey 6 (after the others, by name): no log of the stack, gunicorn's access log or nginx's,
holds a personal-link or stop token, neither this test's nor any token another journey used."""

from __future__ import annotations

from tests.e2e import data
from tests.e2e.pages import ProxiedClient

ACCESS_LOGS = ("gunicorn", "nginx-access")


def test_no_log_line_carries_a_personal_link_or_stop_token(stack, seeding):
    patient = data.treated_patient(seeding, "Lena Logs")
    link, stop = data.personal_link(seeding, patient), data.stop_token(seeding, patient)
    stack.tokens += [link, stop]

    def requests_logged(name: str) -> int:
        return stack.log(name).read_text(errors="replace").count('"GET /')

    logged_before = {name: requests_logged(name) for name in ACCESS_LOGS}
    client = ProxiedClient(stack.port, stack=stack)
    # Each spelling of the paths a log could keep a token in (each page answers).
    paths = [f"/p/{link}", f"//p/{link}", f"/p/{link}?from=email", f"/stop/{stop}"]
    for path in paths:
        status, _ = client.request("GET", path)
        assert status == 200, path
    for name in ACCESS_LOGS:  # a server writes its line just after answering
        stack.wait_for(
            lambda name=name: requests_logged(name) >= logged_before[name] + len(paths),
            f"{name}.log shows every request",
        )

    logs = {name: path.read_text(errors="replace") for name, path in stack.logs().items()}
    assert "/p/[token]" in logs["gunicorn.log"] and "/p/[token]" in logs["nginx-access.log"]
    leaks = [
        (name, line.strip())
        for name, text in logs.items()
        for line in text.splitlines()
        if any(token in line for token in stack.tokens)
    ]
    assert leaks == [], f"{len(leaks)} log lines carry a token:\n" + "\n".join(map(str, leaks))

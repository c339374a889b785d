"""Sign-in, second-factor and password forms."""

from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length

from ..forms import Form  # every form refuses NUL and far-off dates
from ..services.staff.passwords import MAX_PASSWORD_CHARS

MAX_CODE_CHARS = 32  # a 6-digit code or a recovery code, with room for spaces and dashes


class SignInForm(Form):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[InputRequired(), Length(max=MAX_PASSWORD_CHARS)]
    )
    submit = SubmitField("Sign in")


class SecondFactorForm(Form):
    """The second sign-in step: the authenticator app's code, or a recovery code."""

    code = StringField(
        "6-digit code from your authenticator app, or a recovery code",
        validators=[InputRequired(), Length(max=MAX_CODE_CHARS)],
    )
    submit = SubmitField("Continue")


class EnrolForm(Form):
    """Confirming a new authenticator with the first code it shows."""

    code = StringField(
        "The 6-digit code your app shows now",
        validators=[InputRequired(), Length(max=MAX_CODE_CHARS)],
    )
    submit = SubmitField("Turn on the second factor")


class ChangePasswordForm(Form):
    current = PasswordField(
        "Current password", validators=[InputRequired(), Length(max=MAX_PASSWORD_CHARS)]
    )
    new = PasswordField(
        "New password", validators=[InputRequired(), Length(max=MAX_PASSWORD_CHARS)]
    )
    confirm = PasswordField(
        "New password again", validators=[EqualTo("new", message="The two do not match.")]
    )
    submit = SubmitField("Change password")


class SignOutForm(Form):
    submit = SubmitField("Sign out")

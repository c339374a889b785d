"""Sign-in and password forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import EqualTo, InputRequired, Length

from ..services.passwords import MAX_PASSWORD_CHARS


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[InputRequired(), Length(max=MAX_PASSWORD_CHARS)]
    )
    submit = SubmitField("Sign in")


class ChangePasswordForm(FlaskForm):
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


class SignOutForm(FlaskForm):
    submit = SubmitField("Sign out")

"""Admin pages: catalogue, staff, audit log (placeholder: being built)."""

from flask import render_template

from . import bp
from .access import admin_required


@bp.get("/catalogue")
@admin_required
def catalogue():
    return render_template("clinic/catalogue.html")


@bp.get("/staff")
@admin_required
def staff():
    return render_template("clinic/staff.html")


@bp.get("/audit")
@admin_required
def audit_log():
    return render_template("clinic/audit.html")

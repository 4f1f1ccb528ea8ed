"""``infinstruct users …``: manage accounts and API tokens."""

from __future__ import annotations

import typer

from infinstruct.core.cli_support import JsonOption, emit, settings_from


def _password(prompt: bool, given: str | None) -> str:
    if given:
        return given
    if not prompt:
        raise typer.BadParameter("give --password or run in a terminal to be prompted")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    users_app = typer.Typer(help="User accounts, roles and API tokens.", no_args_is_help=True)
    app.add_typer(users_app, name="users")
    _register_accounts(users_app)
    _register_account_changes(users_app)


def _register_accounts(users_app: typer.Typer) -> None:
    """``users add|list``: creating and listing accounts."""

    @users_app.command("add")
    def users_add(
        ctx: typer.Context,
        username: str,
        role: str = typer.Option(..., help="customer, analyst, operator or admin."),
        password: str | None = typer.Option(None, help="Prompted when omitted."),
        email: str = typer.Option("", help="Address for e-mail alerts."),
        as_json: bool = JsonOption,
    ) -> None:
        """Create a user."""
        from infinstruct.auth.users import add_user

        p = add_user(settings_from(ctx), username, role=role, password=_password(True, password), email=email)
        emit(
            {"id": p.user_id, "username": p.username, "role": p.role},
            as_json=as_json,
            human=f"added {p.username} ({p.role})",
        )

    @users_app.command("list")
    def users_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List users (never their hashes)."""
        from infinstruct.auth.users import list_users

        rows = [
            {"id": u.id, "username": u.username, "role": u.role, "disabled": u.disabled}
            for u in list_users(settings_from(ctx))
        ]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['username']:20} {r['role']:9}{' (disabled)' if r['disabled'] else ''}" for r in rows
            )
            or "no users",
        )


def _register_account_changes(users_app: typer.Typer) -> None:
    """``users passwd|role|remove|token``: changing an existing account."""

    @users_app.command("passwd")
    def users_passwd(
        ctx: typer.Context,
        username: str,
        password: str | None = typer.Option(None, help="Prompted when omitted."),
    ) -> None:
        """Set a user's password; their web sessions end."""
        from infinstruct.auth.users import set_password

        set_password(settings_from(ctx), username, _password(True, password))
        typer.echo(f"password of {username} changed")

    @users_app.command("role")
    def users_role(ctx: typer.Context, username: str, role: str) -> None:
        """Give a user a new role (customer, analyst, operator or admin); their sessions end."""
        from infinstruct.auth.users import set_role

        set_role(settings_from(ctx), username, role)
        typer.echo(f"{username} is now {role}; their web sessions ended")

    @users_app.command("remove")
    def users_remove(ctx: typer.Context, username: str) -> None:
        """Disable a user, revoke their tokens and end their sessions (their history stays)."""
        from infinstruct.auth.users import remove_user

        remove_user(settings_from(ctx), username)
        typer.echo(f"{username} disabled")

    @users_app.command("token")
    def users_token(
        ctx: typer.Context,
        username: str,
        name: str = typer.Option("default", help="Label."),
        as_json: bool = JsonOption,
    ) -> None:
        """Issue an API token (shown once); a customer's opens only the chat and /api/recommend."""
        from infinstruct.auth.users import issue_token

        token = issue_token(settings_from(ctx), username, name=name)
        emit({"username": username, "token": token}, as_json=as_json, human=token)

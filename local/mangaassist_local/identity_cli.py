"""`mangaassist token` and `mangaassist forget`: sign in as a sample customer, and forget a customer.

- token: an ID token the running local stack at --url accepts (its gateway signs it with the stack's own
  key; a restarted stack has a new key, so get a new token). Connect with ws://.../ws?token=<token>.
- forget: delete a customer's sessions, on the local stack (--url) or a deployed one (--stack-name).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Annotated, Any, NoReturn

import typer

LOCAL_URL = "http://127.0.0.1:8080"
UrlOption = Annotated[str, typer.Option(help="A running local stack's gateway.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


class IdentityCliError(Exception):
    pass


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the local stack's own URL
        url.rstrip("/") + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local stack's own URL
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("message", "")
        except ValueError:
            detail = ""
        raise IdentityCliError(f"{url} refused: HTTP {error.code} {detail}".strip()) from None
    except (urllib.error.URLError, OSError) as error:
        raise IdentityCliError(f"no MangaAssist local stack answers at {url} ({error}); start one with "
                               "`mangaassist serve`, or give --url") from None


def fetch_token(url: str, customer: str, expires_in: int = 3600) -> dict[str, Any]:
    """A token signed by the running local stack at `url` for `customer`."""
    return _post(url, "/local/token", {"customer": customer, "expires_in": expires_in})


def with_token(ws_url: str, token: str | None) -> str:
    """The WebSocket URL with ?token= (browsers cannot set WebSocket headers, so the authorizer reads it)."""
    return f"{ws_url}?{urllib.parse.urlencode({'token': token})}" if token else ws_url


def as_order_owner(ws_url: str, message: str) -> str:
    """`ws_url` signed in as the sample owner of the first order the message names, when `ws_url` is a local
    stack (its gateway signs tokens); else `ws_url` unchanged (a guest, who is asked to sign in). Evaluations of
    order answers use this: only an order's owner gets its details."""
    from mangaassist.text import find_order_ids
    from mangaassist_local.seed import sample_customers

    parsed = urllib.parse.urlsplit(ws_url)
    ids = find_order_ids(message)
    if not ids or parsed.scheme != "ws" or parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        return ws_url
    owner = next((c["customer"] for c in sample_customers() if ids[0] in c["orders"]), None)
    if owner is None:
        return ws_url
    try:
        issued = fetch_token(f"http://{parsed.netloc}", owner)
    except IdentityCliError:
        return ws_url
    return with_token(ws_url, str(issued["token"]))


def token(
    customer: Annotated[str, typer.Option(help="The customer id to sign in as, e.g. C-1043 (see the sample orders).")],
    url: UrlOption = LOCAL_URL,
    expires_in: Annotated[int, typer.Option(help="Seconds the token is valid (1..86400).")] = 3600,
    as_json: JsonOption = False,
) -> None:
    """Print an ID token the running local stack accepts: `mangaassist chat --token $(mangaassist token ...)`."""
    try:
        issued = fetch_token(url, customer, expires_in)
    except IdentityCliError as error:
        _fail(str(error))
    if as_json:
        typer.echo(json.dumps(issued, indent=2))
    else:
        typer.echo(issued["token"])


def forget_deployed(stack_name: str, customer: str, region: str | None) -> dict[str, Any]:
    import boto3

    from mangaassist.chat.forget import forget_principal
    from mangaassist_local.seed import require_output, stack_outputs

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise IdentityCliError("no AWS region: pass --region or set AWS_REGION")
    outputs = stack_outputs(session.client("cloudformation"), stack_name)
    table = session.resource("dynamodb").Table(require_output(outputs, "SessionsTableName", stack_name))

    def progress(done: int, total: int) -> None:
        typer.echo(f"  deleted {done}/{total} turns", err=True)

    return {"customer": customer, **forget_principal(table, customer, progress)}


def forget(
    customer: Annotated[str, typer.Option(help="The customer id whose sessions to delete, e.g. C-1043.")],
    url: UrlOption = LOCAL_URL,
    stack_name: Annotated[str | None, typer.Option(help="A deployed stack (instead of the local one).")] = None,
    region: Annotated[str | None, typer.Option(help="The deployed stack's region.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete every session turn of a customer (local stack at --url, or a deployed --stack-name)."""
    try:
        if stack_name:
            result = forget_deployed(stack_name, customer, region)
        else:
            result = _post(url, "/local/forget", {"customer": customer})
    except Exception as error:  # noqa: BLE001 - any AWS or network failure: one clear line, exit 2
        _fail(str(error) if isinstance(error, IdentityCliError) else f"{type(error).__name__}: {error}")
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(f"{'customer':<10} {'sessions':>8} {'turns':>6}\n"
                   f"{result['customer']:<10} {result['sessions']:>8} {result['items']:>6}")

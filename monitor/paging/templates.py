"""What a page says, in Bahasa Indonesia (default) and English, in two sizes: the full
message (e-mail, chat) and the SMS one (≤ 160 GSM-7 characters, ack link last).

`render(ctx, lang, sms=…)` returns (title, body). SMS gateways in apprise have no title:
apprise sends "title\\r\\nbody", so the SMS budget counts both plus those two characters.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.delivery.notifiers import Message, channel_of
from monitor.i18n import reason as reason_in
from monitor.i18n import text

SMS_LIMIT = 160
# apprise schemes of SMS and pager gateways (short, plain-text channels). Chat apps that
# merely live on phones (Signal, WhatsApp, Telegram) are not here: they take full messages.
SMS_SCHEMES = frozenset({
    "46elks", "elks", "atalk", "aprs", "bulksms", "bulkvs", "burstsms", "kudosity",
    "clickatell", "clicksend", "d7sms", "dapnet", "exotel", "freemobile", "httpsms",
    "infobip", "kavenegar", "mobilemessage", "mobilemsg", "msg91", "msgbird", "nexmo",
    "vonage", "notifyre", "octopush", "plivo", "ringc", "serwersms", "seven", "sfr", "sinch",
    "smpp", "smpps", "smsc", "smseagle", "smseagles", "smsmanager", "smsmgr", "smstunnel",
    "sns", "telesign", "telnyx", "twilio", "voipms",
})
KINDS = ("page", "reminder", "resolved", "blind", "blind_over", "flapping", "stable",
         "acknowledged", "self", "self_over", "digest", "mass", "still_down")
_MESSAGE_KIND = {"page": "page", "reminder": "reminder", "resolved": "resolved",
                 "mass": "page", "digest": "page", "still_down": "reminder",
                 "blind": "blind", "self": "blind", "acknowledged": "ack"}  # the rest are "info"
_MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
# kinds where "what is wrong" helps
_WITH_REASON = ("page", "reminder", "blind", "flapping", "self", "mass", "still_down")
_AFFECTED_LISTED = 50  # beyond this a page lists names then "and N more"


@dataclass(frozen=True, kw_only=True)
class PageContext:
    """Everything a message may mention. `since` is aware, in the configured time zone;
    `step` is the escalation step index (0 = first notification), `round` how many times
    the whole policy has repeated. `duration` is text, or seconds to be formatted."""

    kind: str
    incident_id: int
    check_title: str
    since: datetime
    group: str = ""
    reason: str = ""
    on_duty: str | None = None
    ack_url: str | None = None
    status_url: str | None = None
    affected: Sequence[str] = ()
    acked_by: str | None = None
    duration: str | float | None = None
    note: str | None = None
    heartbeat: bool = False  # a job that pushes: silence means it did not report
    alert: bool = False  # an Alertmanager alert: its reason is the rule's own text
    step: int = 0
    round: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown page kind {self.kind!r}; expected one of {KINDS}")
        if self.since.tzinfo is None:
            raise ValueError("PageContext.since must be timezone-aware (the configured zone)")


def capped(lang: str, count: int, limit: int, since: datetime, url: str) -> tuple[str, str]:
    """The one message that stands for updates held by the per-channel rate cap."""
    when = format_time(since, lang, year=False)
    return (text(lang, "alert.capped.title", count=count),
            text(lang, "alert.capped.body", count=count, limit=limit, since=when, url=url))


def is_sms_url(url: str, override: bool | None = None) -> bool:
    """Whether `url` gets the SMS variant: by apprise scheme unless the pager overrides."""
    return override if override is not None else channel_of(url) in SMS_SCHEMES


def format_time(moment: datetime, lang: str, *, year: bool = True) -> str:
    """"28 Nov 2026 03:12 WIB": month names by language, never by process locale."""
    month = _MONTHS.get(lang, _MONTHS["id"])[moment.month - 1]
    day = f"{moment.day} {month} {moment.year}" if year else f"{moment.day} {month}"
    return f"{day} {moment:%H:%M} {moment.tzname() or ''}".rstrip()


def format_duration(seconds: float, lang: str, *, short: bool = False) -> str:
    """A human duration: "2 jam 5 menit" / "2 h 5 min"; short: "2j 5m" / "2h 5m"."""
    minutes = math.floor(seconds / 60)
    if minutes < 1:
        return "<1m" if short else text(lang, "duration.under_minute")
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if short:
        units = text(lang, "duration.short", d=days, h=hours, m=mins).split()
        return " ".join(u for u, n in zip(units, (days, hours, mins), strict=True) if n)
    parts = [text(lang, f"duration.{name}", n=n)
             for name, n in (("day", days), ("hour", hours), ("minute", mins)) if n]
    return " ".join(parts)


def render(ctx: PageContext, lang: str, *, sms: bool = False) -> tuple[str, str]:
    """The (title, body) of `ctx` in `lang` ("id" default, "en"); SMS-sized when `sms`."""
    return _render_sms(ctx, lang) if sms else _render_full(ctx, lang)


def to_message(ctx: PageContext, lang: str, *, key: str, sms: bool = False) -> Message:
    """`render` packed as the notifier's Message, with `key` as its idempotency id."""
    title, body = render(ctx, lang, sms=sms)
    return Message(title=title, body=body, kind=_MESSAGE_KIND.get(ctx.kind, "info"), key=key)


def _service(ctx: PageContext) -> str:
    """The service as a reader knows it: its title and, when set, its group."""
    return f"{ctx.check_title} ({ctx.group})" if ctx.group else ctx.check_title


def _duration(ctx: PageContext, lang: str, *, short: bool = False) -> str:
    """The outage's length: given as text, or seconds formatted in `lang`."""
    if isinstance(ctx.duration, int | float):
        return format_duration(ctx.duration, lang, short=short)
    return ctx.duration or text(lang, "alert.unknown")


def _wants_ack(ctx: PageContext) -> bool:
    """An ack link helps only while the incident is open and nobody has taken it yet."""
    return bool(ctx.ack_url) and not ctx.acked_by and ctx.kind in _WITH_REASON


def _affected(names: Sequence[str], lang: str) -> str:
    """The other services hit, listed up to a point so a big outage stays readable."""
    if len(names) <= _AFFECTED_LISTED:
        return ", ".join(names)
    listed = ", ".join(names[:_AFFECTED_LISTED])
    return text(lang, "alert.more", names=listed, count=len(names) - _AFFECTED_LISTED)


def _lead_key(ctx: PageContext) -> str:
    """A job that stopped pushing "did not report"; a service that stopped answering is
    "unreachable"; an Alertmanager alert "fires"."""
    if ctx.heartbeat and ctx.kind in ("page", "reminder", "resolved"):
        return f"alert.lead.{ctx.kind}.heartbeat"
    if ctx.alert and ctx.kind in ("page", "reminder", "resolved"):
        return f"alert.lead.{ctx.kind}.alert"
    return f"alert.lead.{ctx.kind}"


def _tag(ctx: PageContext, lang: str) -> str:
    if ctx.alert and ctx.kind == "page":
        return text(lang, "alert.tag.page.alert")
    return text(lang, f"alert.tag.{ctx.kind}")


def _reason(ctx: PageContext, lang: str) -> str:
    """A probe's reason in `lang`; an alert's description as its rule's author wrote it."""
    return ctx.reason if ctx.alert else reason_in(lang, ctx.reason)


def _render_full(ctx: PageContext, lang: str) -> tuple[str, str]:
    """The full message: a lead sentence, then one labelled line per known fact."""
    title = f"{_tag(ctx, lang)}: {ctx.check_title}"
    held = text(lang, f"alert.held.{ctx.note}") if ctx.kind == "still_down" else ""
    lead = text(lang, _lead_key(ctx), service=_service(ctx),
                since=format_time(ctx.since, lang), duration=_duration(ctx, lang),
                acked_by=ctx.acked_by or text(lang, "alert.unknown"), held=held)
    lines = [lead, ""]

    def add(key: str, value: object) -> None:
        if value:
            lines.append(text(lang, key, value=value))

    if ctx.kind in _WITH_REASON:
        add("alert.reason", _reason(ctx, lang))
    if ctx.kind in ("page", "reminder", "blind", "mass", "still_down"):
        add("alert.on_duty", ctx.on_duty)
    if ctx.kind == "reminder":
        add("alert.acked_by", ctx.acked_by)
    add("alert.affected", _affected(ctx.affected, lang) if ctx.affected else "")
    add("alert.note", ctx.note if ctx.kind != "still_down" else "")
    if ctx.kind == "page" and ctx.step > 0:
        lines.append(text(lang, "alert.escalation", step=ctx.step + 1))
    if ctx.kind == "page" and ctx.round > 0:
        lines.append(text(lang, "alert.round", round=ctx.round + 1))
    if _wants_ack(ctx):
        add("alert.ack_link", ctx.ack_url)
    add("alert.status_link", ctx.status_url)
    add("alert.incident", ctx.incident_id)
    return title, "\n".join(lines).rstrip()


# --- SMS ----------------------------------------------------------------------------------

_TYPOGRAPHY = str.maketrans({
    "—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "→": "->",
    "·": "-", "×": "x", "[": "(", "]": ")", "{": "(", "}": ")", "~": "-", "^": "",
    "\\": "/", "|": "/", "`": "'", "\n": " ", "\r": " ", "\t": " ",
})


def gsm_text(value: str) -> str:
    """Plain text that fits GSM-7's basic table: one non-GSM character would switch the
    whole SMS to UCS-2 and cut its limit to 70; extension characters count twice."""
    folded = unicodedata.normalize("NFKD", value.translate(_TYPOGRAPHY))
    return folded.encode("ascii", "ignore").decode("ascii")


def _clip(value: str, limit: int) -> str:
    """`value` in at most `limit` characters, marked ".." (ASCII, unlike "…") when cut."""
    return value if len(value) <= limit else value[: max(limit - 2, 0)].rstrip() + ".."


@dataclass(frozen=True)
class _Sms:
    """The SMS being fitted: each field may be shortened or dropped, the link stays last."""

    tag: str
    check: str
    fact: str  # the reason, the duration, or who acknowledged
    since: str
    on_duty: str
    affected: str
    ack: str

    def title(self) -> str:
        return f"{self.tag}: {self.check}"

    def body(self) -> str:
        parts = (self.fact, self.since, self.on_duty, self.affected, self.ack)
        return " ".join(p for p in parts if p)

    def length(self) -> int:
        return len(self.title()) + 2 + len(self.body())  # apprise joins with "\r\n"


def _cut(value: str, over: int, floor: int) -> str:
    """`value` shortened by the `over`flow, but not below `floor` characters."""
    return _clip(value, max(floor, len(value) - over))


# Ways to make an SMS shorter, least painful first; each runs only while the text is `over`
# the limit, and cuts no more than needed.
_SHRINK: tuple[Callable[[_Sms, int], _Sms], ...] = (
    lambda s, over: replace(s, affected=""),
    lambda s, over: replace(s, on_duty=""),
    lambda s, over: replace(s, fact=_cut(s.fact, over, 40)),
    lambda s, over: replace(s, check=_cut(s.check, over, 24)),
    lambda s, over: replace(s, fact=_cut(s.fact, over, 20)),
    lambda s, over: replace(s, check=_cut(s.check, over, 12)),
    lambda s, over: replace(s, since=""),
    lambda s, over: replace(s, fact=""),
    lambda s, over: replace(s, ack=s.ack.split(" ")[-1]),  # the bare link, without its label
    lambda s, over: replace(s, ack=""),
)


def _sms_fields(ctx: PageContext, lang: str) -> _Sms:
    """Every SMS part at full length, already in GSM-safe text."""
    if ctx.kind == "resolved":
        fact = text(lang, "alert.sms.duration", value=_duration(ctx, lang, short=True))
    elif ctx.kind == "acknowledged":
        fact = text(lang, "alert.sms.acked_by", value=ctx.acked_by or "?")
    elif ctx.kind in _WITH_REASON and ctx.reason:
        fact = _reason(ctx, lang).rstrip(".") + "."
    else:
        fact = ""
    return _Sms(
        tag=gsm_text(_tag(ctx, lang)),
        check=gsm_text(ctx.check_title),
        fact=gsm_text(fact),
        since=gsm_text(text(lang, "alert.sms.since",
                            value=format_time(ctx.since, lang, year=False))),
        on_duty=gsm_text(text(lang, "alert.sms.on_duty", value=ctx.on_duty))
        if ctx.on_duty and ctx.kind in ("page", "reminder") else "",
        affected=text(lang, "alert.sms.affected", value=len(ctx.affected)) if ctx.affected else "",
        ack=text(lang, "alert.sms.ack", value=ctx.ack_url) if _wants_ack(ctx) else "",
    )


def _regrow(sms: _Sms, full: _Sms) -> _Sms:
    """Give room freed by a later, coarser step back to the reason and the service name."""
    for name in ("fact", "check"):
        now, was = getattr(sms, name), getattr(full, name)
        spare = SMS_LIMIT - sms.length()
        if now and spare > 0 and len(now) < len(was):
            sms = replace(sms, **{name: _clip(was, len(now) + spare)})
    return sms


def _render_sms(ctx: PageContext, lang: str) -> tuple[str, str]:
    """Shrink step by step until title + body fit SMS_LIMIT; cut hard only as a last resort."""
    full = sms = _sms_fields(ctx, lang)
    for shrink in _SHRINK:
        over = sms.length() - SMS_LIMIT
        if over <= 0:
            break
        sms = shrink(sms, over)
    sms = _regrow(sms, full)
    title = _clip(sms.title(), SMS_LIMIT - 2)
    return title, _clip(sms.body(), SMS_LIMIT - 2 - len(title))

"""Posting a ticket message with its files: the small fetch() both ticket screens use, and the file picker.

Reflex's own upload (/_upload) is closed, so a ticket form is a plain box of named controls (no <form>: Enter
in a field never posts it) whose send button runs POST_SCRIPT: it gathers the box's named controls — text,
checked checkboxes, every chosen file — into one multipart request to the address in the box's `data-url`
(a route of telecom_app.ticket_uploads), same-origin with the session cookie, and hands the JSON answer (plus
its HTTP status) to the state's callback, which shows the words or opens the result. The page's
Content-Security-Policy allows it as it is: connect-src 'self', and the script runs through Reflex's own
call_script.
"""

from __future__ import annotations

import json

import reflex as rx

from components.i18n import tr

# accept= is only a hint to the picker; the server recognises the type from the bytes
ACCEPT = ".pdf,.png,.jpg,.jpeg,.heic,.heif,.txt,application/pdf,image/png,image/jpeg,image/heic,image/heif,text/plain"
TOUCH = "48px"


def post_script(box_id: str) -> str:
    """The JavaScript that posts the controls of the element `box_id` to its data-url; resolves to
    {"status": <HTTP status, 0 when offline, -1 when a post is already running>, ...the JSON answer}."""
    return f"""(async () => {{
  const box = document.getElementById({json.dumps(box_id)});
  if (!box || box.dataset.busy) return {{status: -1}};
  box.dataset.busy = "1";
  const data = new FormData();
  for (const el of box.querySelectorAll("[name]")) {{
    if (el.type === "file") {{ for (const f of el.files) data.append(el.name, f, f.name); }}
    else if (el.type === "checkbox") {{ if (el.checked) data.append(el.name, "on"); }}
    else if ("value" in el) data.append(el.name, el.value);
  }}
  try {{
    const r = await fetch(box.dataset.url, {{method: "POST", body: data, credentials: "same-origin"}});
    let answer = {{}};
    try {{ answer = await r.json(); }} catch (e) {{}}
    return Object.assign({{}}, answer, {{status: r.status}});
  }} catch (e) {{
    return {{status: 0}};
  }} finally {{
    delete box.dataset.busy;
  }}
}})()"""


def send_button(label: str, box_id: str, callback, button_id: str, **props) -> rx.Component:
    """The button that posts the box `box_id` and passes the answer to `callback` (a state event handler)."""
    props = {"size": "4", "min_height": TOUCH, **props}
    return rx.button(rx.icon("send", size=18), tr(label), type="button",
                     on_click=rx.call_script(post_script(box_id), callback=callback), id=button_id, **props)


def file_picker(input_id: str, help_text) -> rx.Component:
    """A native multi-file input (name "files") with what may be attached below it."""
    return rx.vstack(
        rx.el.input(type="file", name="files", id=input_id, multiple=True, accept=ACCEPT,
                    style={"min_height": TOUCH, "width": "100%", "max_width": "100%", "font_size": "16px"}),
        rx.text(help_text, size="1", color="var(--gray-11)"),
        spacing="1", width="100%",
    )


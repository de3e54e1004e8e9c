"""The browser's half of a passkey ceremony: the JavaScript that a handler runs with rx.call_script.

`create_script(options_json)` / `get_script(options_json)` build a script that turns the server's options
(binary fields base64url, as services.security.passkeys makes them) into ArrayBuffers, calls
navigator.credentials.create / .get and resolves to the answer as a JSON string (rawId, clientDataJSON,
attestationObject or authenticatorData + signature + userHandle, transports; base64url) — the string
passkeys.register / passkeys.sign_in take. The script never rejects: a failure resolves to
{"error": "<name>"}, which `browser_problem` turns into Japanese words ("NotAllowedError": the person
cancelled or the time ran out).

It lives in the state layer because the handlers that start the ceremonies return it. Reflex runs it with
eval, which the app's Content-Security-Policy allows ('unsafe-eval', telecom_app/http_policy.py); WebAuthn
itself needs no CSP source and no Permissions-Policy entry on the app's own origin.
"""

from __future__ import annotations

import json

_HELPERS = """
const b64uToBuf = (s) => {
  s = String(s).replace(/-/g, "+").replace(/_/g, "/");
  while (s.length % 4) s += "=";
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
};
const bufToB64u = (buf) => {
  if (!buf) return null;
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
};
const failed = (e) => JSON.stringify({error: (e && e.name) || "Error"});
"""

_CREATE = """
(async () => {%(helpers)s
  try {
    if (!window.PublicKeyCredential || !navigator.credentials) return JSON.stringify({error: "Unsupported"});
    const options = JSON.parse(%(options)s);
    options.challenge = b64uToBuf(options.challenge);
    options.user.id = b64uToBuf(options.user.id);
    (options.excludeCredentials || []).forEach((c) => { c.id = b64uToBuf(c.id); });
    const cred = await navigator.credentials.create({publicKey: options});
    const r = cred.response;
    return JSON.stringify({
      id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        clientDataJSON: bufToB64u(r.clientDataJSON), attestationObject: bufToB64u(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : [],
      },
    });
  } catch (e) {
    return failed(e);
  }
})()
"""

_GET = """
(async () => {%(helpers)s
  try {
    if (!window.PublicKeyCredential || !navigator.credentials) return JSON.stringify({error: "Unsupported"});
    const options = JSON.parse(%(options)s);
    options.challenge = b64uToBuf(options.challenge);
    (options.allowCredentials || []).forEach((c) => { c.id = b64uToBuf(c.id); });
    const cred = await navigator.credentials.get({publicKey: options});
    const r = cred.response;
    return JSON.stringify({
      id: cred.id, rawId: bufToB64u(cred.rawId), type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        clientDataJSON: bufToB64u(r.clientDataJSON), authenticatorData: bufToB64u(r.authenticatorData),
        signature: bufToB64u(r.signature), userHandle: bufToB64u(r.userHandle),
      },
    });
  } catch (e) {
    return failed(e);
  }
})()
"""

CANCELLED = ("パスキーの操作が取り消されたか、時間切れになりました。"
             "もう一度お試しいただくか、メールアドレスとパスワードでログインしてください。")
_PROBLEMS = {
    "NotAllowedError": CANCELLED,
    "AbortError": CANCELLED,
    "InvalidStateError": "この端末のパスキーはすでに登録されています。",
    "Unsupported": "このブラウザではパスキーを使えません。メールアドレスとパスワードでログインしてください。",
    "NotSupportedError": "この端末ではパスキーを作成できません。",
    "SecurityError": "このアドレスではパスキーを使えません。正しいURLで開き直してください。",
}
OTHER_PROBLEM = "パスキーの操作ができませんでした。もう一度お試しください。"


def create_script(options_json: str) -> str:
    """The script that registers a passkey for these creation options and resolves to the answer (JSON)."""
    return _CREATE % {"helpers": _HELPERS, "options": json.dumps(options_json)}


def get_script(options_json: str) -> str:
    """The script that signs in with a passkey for these request options and resolves to the answer (JSON)."""
    return _GET % {"helpers": _HELPERS, "options": json.dumps(options_json)}


def browser_problem(result: object) -> str:
    """What went wrong in the browser, in Japanese ("" when `result` is an answer to send to the server)."""
    if not isinstance(result, str):
        return OTHER_PROBLEM
    try:
        value = json.loads(result)
    except ValueError:
        return OTHER_PROBLEM
    if not isinstance(value, dict):
        return OTHER_PROBLEM
    if "error" in value:
        return _PROBLEMS.get(str(value.get("error")), OTHER_PROBLEM)
    return ""

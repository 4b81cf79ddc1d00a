"""Forwards a Cognito trigger event to a webhook-api sink (POST /triggers).

Cognito waits 5 s for a trigger and fails the user's sign-up or sign-in if it
errs, so the sink is best effort: whatever it answers, or if it answers nothing,
the event goes back to Cognito unchanged within a bounded time. A failure is
logged as one line with the trigger and the kind of failure only: events carry
passwords, codes and user attributes, and the secret is nobody's business.
"""

import json
import logging
import os
import threading
import urllib.error
import urllib.request

LOG = logging.getLogger()
# Left to Lambda to return the event once the sink is given up on.
MARGIN_MS = 500
FLOOR_MS = 100


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would carry the secret header to wherever it points.
    def redirect_request(self, *args):
        return None


# No proxies either: the secret goes to SINK_URL and nowhere else.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def _timeout_ms(context):
    try:
        timeout = int(os.environ.get("SINK_TIMEOUT_MS") or 2000)
    except ValueError:
        timeout = 2000
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        timeout = min(timeout, remaining() - MARGIN_MS)
    return max(timeout, FLOOR_MS)


def _post(url, secret, body, timeout_s, outcome):
    try:
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "X-Trigger-Secret": secret},
        )
        # urllib raises HTTPError for any status but 2xx.
        _OPENER.open(request, timeout=timeout_s).close()
        outcome["failure"] = None
    except urllib.error.HTTPError as error:
        outcome["failure"] = "http_status %d" % error.code
    except urllib.error.URLError as error:
        timed_out = isinstance(error.reason, TimeoutError)
        outcome["failure"] = "timeout" if timed_out else "connection_error"
    except TimeoutError:
        outcome["failure"] = "timeout"
    except OSError:
        outcome["failure"] = "connection_error"
    except Exception as error:  # nothing may fail the sign-in
        outcome["failure"] = "error " + type(error).__name__


def handler(event, context):
    """Sends the event to the sink and returns it unchanged, whatever happens."""
    failure = "not_configured"
    url = os.environ.get("SINK_URL", "")
    secret = os.environ.get("SINK_SECRET", "")
    if url.startswith(("https://", "http://")) and secret:
        outcome = {"failure": "timeout"}
        try:
            timeout_s = _timeout_ms(context) / 1000
            body = json.dumps(event).encode()
            # A thread bounds the whole exchange: a socket timeout bounds each read
            # only, and a sink that trickles bytes could hold Cognito past 5 s.
            worker = threading.Thread(
                target=_post, args=(url, secret, body, timeout_s, outcome), daemon=True
            )
            worker.start()
            worker.join(timeout_s)
            failure = outcome["failure"] if not worker.is_alive() else "timeout"
        except Exception as error:
            failure = "error " + type(error).__name__
    if failure:
        source = event.get("triggerSource") if isinstance(event, dict) else None
        LOG.warning(
            "trigger sink failed: triggerSource=%s failure=%s",
            str(source)[:64],
            failure,
        )
    return event

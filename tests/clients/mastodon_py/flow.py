#!/usr/bin/env python3
"""Mastodon.py (PyPI `Mastodon.py[websocket-streaming]==2.3.3`) against a live MiniTwit,
through the library's own API only: the proof that a real client works with the
Mastodon-compatible surface (docs/mastodon.md). tests/it/mastodon/clients.rs runs it.

Usage: flow.py BASE_URL (or MINITWIT_BASE_URL in the environment).

What the runner does around it:
- registers the users alice, bob and carol, each with the password `secret`, before it
  starts (the Mastodon surface has no sign-up);
- answers each line `HIDE <id>` the script prints by hiding that status as a moderator,
  then writing one line to the script's stdin.

Each step prints what it checked; the first failure prints `FAIL: …` and exits with 1.
"""

import math
import os
import sys
import threading
import time
import traceback

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonUnauthorizedError,
    StreamListener,
)

PASSWORD = "secret"
# A page size small enough that the statuses below take several pages.
PAGE = 10
# Statuses bob posts for the paging checks.
BOB_STATUSES = 45
# How long one event may take to arrive on a stream.
EVENT_WAIT = 10.0


class Failure(Exception):
    """A check that did not hold; its message says what was expected and what came."""


def check(condition, message):
    if not condition:
        raise Failure(message)


STARTED = time.monotonic()


def step(title):
    print(f"== {title}", flush=True)


def ok(message):
    print(f"ok: [{time.monotonic() - STARTED:5.1f}s] {message}", flush=True)


def expect_api_error(status, action, what):
    """Runs `action`, which must fail with an API error of HTTP `status`."""
    try:
        action()
    except MastodonAPIError as error:
        got = error.args[1] if len(error.args) > 1 else None
        check(got == status, f"{what}: expected HTTP {status}, got {got} ({error!r})")
        ok(f"{what}: refused with {status} ({error.args[-1]})")
        return
    raise Failure(f"{what}: expected HTTP {status}, but the call succeeded")


def ids_of(statuses):
    return [str(s.id) for s in statuses]


def newest_first(ids):
    return sorted(ids, key=int, reverse=True)


class Collector(StreamListener):
    """Records what one stream delivers, for the main thread to wait on."""

    def __init__(self, name):
        super().__init__()
        self.name = name
        self.changed = threading.Condition()
        self.updates = {}
        self.deletes = []
        self.problems = []

    def on_update(self, status):
        with self.changed:
            self.updates[str(status.id)] = status
            self.changed.notify_all()

    def on_delete(self, status_id):
        with self.changed:
            self.deletes.append(str(status_id))
            self.changed.notify_all()

    def on_abort(self, err):
        with self.changed:
            self.problems.append(f"aborted: {err!r}")
            self.changed.notify_all()

    def on_websocket_error(self, error, for_stream=None):
        with self.changed:
            self.problems.append(f"websocket error for {for_stream}: {error!r}")
            self.changed.notify_all()

    def on_unknown_event(self, name, unknown_event=None):
        with self.changed:
            self.problems.append(f"unknown event {name!r}: {unknown_event!r}")
            self.changed.notify_all()

    def wait_until(self, predicate, timeout):
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def got_update(self, status_id, timeout=EVENT_WAIT):
        return self.wait_until(lambda: str(status_id) in self.updates, timeout)

    def got_delete(self, status_id, timeout=EVENT_WAIT):
        return self.wait_until(lambda: str(status_id) in self.deletes, timeout)

    def expect_update(self, status, text):
        check(
            self.got_update(status.id),
            f"{self.name}: no `update` for status {status.id} within {EVENT_WAIT}s "
            f"(got updates {list(self.updates)}, problems {self.problems})",
        )
        streamed = self.updates[str(status.id)]
        check(
            streamed.content == f"<p>{text}</p>" and streamed.account.acct == status.account.acct,
            f"{self.name}: the streamed status differs from the posted one: {streamed!r}",
        )
        ok(f"{self.name}: update for {status.id}")

    def expect_delete(self, status_id, why):
        check(
            self.got_delete(status_id),
            f"{self.name}: no `delete` for status {status_id} ({why}) within {EVENT_WAIT}s "
            f"(got deletes {self.deletes}, problems {self.problems})",
        )
        ok(f"{self.name}: delete for {status_id} ({why})")

    def expect_no_problems(self):
        check(not self.problems, f"{self.name}: {self.problems}")


class Runner:
    """The test runner on the other end of stdin/stdout (tests/it/mastodon/clients.rs)."""

    @staticmethod
    def hide(status_id):
        print(f"HIDE {status_id}", flush=True)
        answer = sys.stdin.readline()
        check(answer != "", f"the runner closed stdin instead of hiding {status_id}")
        ok(f"the runner hid {status_id} as a moderator")


def log_in(base, client_id, client_secret, username, scopes=None):
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base)
    kwargs = {} if scopes is None else {"scopes": scopes}
    token = api.log_in(username, PASSWORD, allow_http=True, **kwargs)
    check(isinstance(token, str) and token, f"log_in({username}) gave no token: {token!r}")
    return api, token


def wait_until_listening(poster, collectors, label):
    """Streams answer no subscription with an acknowledgement: post until a status arrives
    on every stream, so the checks after it do not race the subscription."""
    for attempt in range(20):
        probe = poster.status_post(f"{label} probe {attempt}")
        if all(c.got_update(probe.id, timeout=1.0) for c in collectors):
            ok(f"{label}: every stream delivers ({attempt + 1} probe(s))")
            return
    raise Failure(
        f"{label}: no probe status reached every stream: "
        + "; ".join(f"{c.name} got {list(c.updates)} problems {c.problems}" for c in collectors)
    )


def close_in_background(handle):
    """Mastodon.py's SSE close() waits for the reading thread's lock, which it holds until
    the next byte arrives (the server's heartbeat, seconds away): let it close on its own."""
    threading.Thread(target=handle.close, daemon=True).start()


def sse_diagnosis(base, token, path):
    """What a plain request to an SSE endpoint answers, for a failure message."""
    try:
        res = requests.get(
            base + path, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=3
        )
        head = res.raw.read(200, decode_content=True) if res.status_code != 200 else b""
        res.close()
        return f"GET {path} answers {res.status_code} {res.headers.get('Content-Type')} {head!r}"
    except Exception as error:  # noqa: BLE001 - only a diagnosis
        return f"GET {path} failed: {error!r}"


def stream_checks(label, alice, bob, carol, user, public):
    """The same events on both transports: updates for new statuses (a stranger's only on
    the public stream), a delete for the author's delete and for a moderator's hide."""
    wait_until_listening(bob, [user, public], label)

    stranger = carol.status_post(f"{label}: carol, whom alice does not follow")
    doomed = bob.status_post(f"{label}: bob deletes this")
    for collector in (user, public):
        collector.expect_update(doomed, f"{label}: bob deletes this")
    public.expect_update(stranger, f"{label}: carol, whom alice does not follow")
    check(
        str(stranger.id) not in user.updates,
        f"{label}: the user stream carried {stranger.id} by carol, whom alice does not follow",
    )
    ok(f"{label}: the user stream leaves out carol's status")

    bob.status_delete(doomed.id)
    for collector in (user, public):
        collector.expect_delete(doomed.id, "its author deleted it")

    abusive = bob.status_post(f"{label}: a moderator hides this")
    for collector in (user, public):
        collector.expect_update(abusive, f"{label}: a moderator hides this")
    Runner.hide(abusive.id)
    for collector in (user, public):
        collector.expect_delete(abusive.id, "a moderator hid it")
        collector.expect_no_problems()


def page_through(api, first, expected, what):
    """Follows `first`'s pages with the library's fetch_next; they must hold `expected`
    newest first, each page full but the last, nothing twice, nothing missing."""
    seen, sizes, page = [], [], first
    while page:
        sizes.append(len(page))
        check(len(sizes) <= 50, f"{what}: more than 50 pages, the Link header loops")
        seen.extend(ids_of(page))
        page = api.fetch_next(page)
    check(
        len(sizes) >= math.ceil(len(expected) / PAGE),
        f"{what}: {len(sizes)} pages for {len(expected)} statuses",
    )
    check(
        all(size == PAGE for size in sizes[:-1]) and sizes[-1] <= PAGE,
        f"{what}: page sizes {sizes}, expected {PAGE} on every page but the last",
    )
    check(len(seen) == len(set(seen)), f"{what}: duplicates in {seen}")
    missing = set(expected) - set(seen)
    extra = set(seen) - set(expected)
    check(not missing and not extra, f"{what}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    check(seen == newest_first(seen), f"{what}: not newest first: {seen}")
    ok(f"{what}: {len(seen)} statuses in {len(sizes)} pages of {PAGE}, newest first")


def main(base):
    step("apps and tokens")
    client_id, client_secret = Mastodon.create_app(
        "MiniTwit flow (Mastodon.py)", api_base_url=base, website="https://example.com"
    )
    check(client_id and client_secret, f"create_app answered {client_id!r}, {client_secret!r}")
    ok(f"create_app: client_id {client_id}")
    alice, _ = log_in(base, client_id, client_secret, "alice")
    bob, _ = log_in(base, client_id, client_secret, "bob")
    carol, _ = log_in(base, client_id, client_secret, "carol")
    ok("password grant for alice, bob and carol with read write follow push")

    step("accounts")
    me = alice.account_verify_credentials()
    check(me.username == "alice" and me.acct == "alice", f"verify_credentials: {me!r}")
    check("source" in me, f"verify_credentials has no `source`: {me!r}")
    ok(f"verify_credentials: alice is account {me.id}")
    bob_account = alice.account_lookup("bob")
    check(bob_account.username == "bob", f"lookup bob: {bob_account!r}")
    check(str(bob_account.id).isdigit(), f"bob's id {bob_account.id!r}")
    ok(f"lookup: bob is account {bob_account.id}")
    relationship = alice.account_follow(bob_account.id)
    check(relationship.following is True, f"follow answered {relationship!r}")
    ok("alice follows bob")

    step("posting")
    home_ids, public_ids = [], []
    for i in range(BOB_STATUSES):
        status = bob.status_post(f"bob status {i}")
        check(status.content == f"<p>bob status {i}</p>", f"posted content {status.content!r}")
        check(status.account.username == "bob", f"posted by {status.account!r}")
        home_ids.append(str(status.id))
        if i in (10, 30):
            mine = alice.status_post(f"alice <b>{i}</b> & co\nsecond line")
            check(
                mine.content == f"<p>alice &lt;b&gt;{i}&lt;/b&gt; &amp; co<br>second line</p>",
                f"alice's escaped content {mine.content!r}",
            )
            home_ids.append(str(mine.id))
        if i == 20:
            stranger = carol.status_post("carol, whom alice does not follow")
            public_ids.append(str(stranger.id))
    public_ids += home_ids
    ok(f"{BOB_STATUSES} statuses by bob, 2 by alice (escaped), 1 by carol")

    step("timelines paged with fetch_next")
    first_home = alice.timeline_home(limit=PAGE)
    page_through(alice, first_home, home_ids, "home")
    page_through(alice, alice.timeline_public(limit=PAGE), public_ids, "public")
    nothing_newer = alice.fetch_previous(first_home)
    check(not nothing_newer, f"fetch_previous above the newest: {nothing_newer!r}")
    newer = bob.status_post("bob, after the first page")
    above = alice.fetch_previous(first_home)
    check(above is not None and ids_of(above) == [str(newer.id)], f"fetch_previous: {above!r}")
    ok("fetch_previous (min_id) finds exactly the status posted after the first page")

    step("streaming over SSE")
    check(alice.stream_healthy(), "GET /api/v1/streaming/health is not OK")
    ok("stream_healthy")
    user, public = Collector("SSE user"), Collector("SSE public")
    handles = [
        alice.stream_user(user, run_async=True),
        alice.stream_public(public, run_async=True),
    ]
    try:
        stream_checks("SSE", alice, bob, carol, user, public)
    except Failure as failure:
        raise Failure(
            f"{failure} [{sse_diagnosis(base, alice.access_token, '/api/v1/streaming/user')}]"
        ) from failure
    finally:
        for handle in handles:
            close_in_background(handle)

    step("streaming over a websocket")
    user, public = Collector("websocket user"), Collector("websocket public")
    socket = alice.stream_open_websocket()
    try:
        alice.stream_user(user, websocket_handle=socket)
        alice.stream_public(public, websocket_handle=socket)
        stream_checks("websocket", alice, bob, carol, user, public)
    finally:
        socket.close()

    step("a revoked token")
    second, second_token = log_in(base, client_id, client_secret, "alice")
    ending = Collector("revoked token's user stream")
    ended = second.stream_user(ending, run_async=True)
    wait_until_listening(bob, [ending], "before revoking")
    second.revoke_access_token(allow_http=True)
    ok("revoke_access_token")
    deadline = time.monotonic() + EVENT_WAIT
    while ended.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = ended.is_alive()
    ended.close()
    check(not alive, f"the revoked token's user stream was still open after {EVENT_WAIT}s")
    ok("the revoked token's user stream ended")
    revoked = Mastodon(access_token=second_token, api_base_url=base)
    try:
        revoked.account_verify_credentials()
        raise Failure("verify_credentials with a revoked token succeeded")
    except MastodonUnauthorizedError as error:
        check(error.args[1] == 401, f"revoked token: {error!r}")
        ok("the revoked token is refused with 401")
    check(alice.account_verify_credentials().username == "alice", "alice's other token died too")
    ok("alice's other token still works")

    step("unfollow")
    relationship = alice.account_unfollow(bob_account.id)
    check(relationship.following is False, f"unfollow answered {relationship!r}")
    home_now = alice.timeline_home(limit=40)
    check(
        all(s.account.username != "bob" for s in home_now),
        f"bob's statuses stay on alice's home after unfollowing: {ids_of(home_now)}",
    )
    ok("alice unfollowed bob, and bob left her home timeline")

    step("a read-only token")
    ro_id, ro_secret = Mastodon.create_app(
        "MiniTwit flow (read only)", scopes=["read"], api_base_url=base
    )
    reader, _ = log_in(base, ro_id, ro_secret, "alice", scopes=["read"])
    check(reader.timeline_home(limit=1) is not None, "the read-only token cannot read")
    ok("the read-only token reads the home timeline")
    expect_api_error(403, lambda: reader.status_post("not allowed"), "status_post with read only")
    expect_api_error(403, lambda: reader.account_follow(bob_account.id), "follow with read only")

    print("PASS: Mastodon.py flow", flush=True)


if __name__ == "__main__":
    base_url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MINITWIT_BASE_URL")
    if not base_url:
        sys.exit("usage: flow.py BASE_URL (or MINITWIT_BASE_URL)")
    # A stream thread that dies reports through its listener's on_abort; its traceback on
    # stderr would only bury the failure message.
    threading.excepthook = lambda args: None
    try:
        main(base_url.rstrip("/"))
    except Failure as failure:
        print(f"FAIL: {failure}", flush=True)
        sys.exit(1)
    except Exception:  # noqa: BLE001 - any library error is a failed flow, with its trace
        print(f"FAIL: unexpected error\n{traceback.format_exc()}", flush=True)
        sys.exit(1)

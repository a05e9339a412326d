// masto.js (npm `masto@7.12.0`, pinned in package.json and package-lock.json) against a
// live MiniTwit, through the library's own API only: the proof that a real client works
// with the Mastodon-compatible surface (docs/mastodon.md). tests/it/mastodon/clients.rs
// runs it.
//
// Usage: node flow.mjs BASE_URL (or MINITWIT_BASE_URL in the environment).
//
// What the runner does around it:
// - registers the users alice, bob and carol, each with the password `secret`, before it
//   starts (the Mastodon surface has no sign-up);
// - answers each line `HIDE <id>` the script prints by hiding that status as a moderator,
//   then writing one line to the script's stdin.
//
// Each step prints what it checked; the first failure prints `FAIL: …` and exits with 1.

import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createInterface } from "node:readline";

import {
  createOAuthAPIClient,
  createRestAPIClient,
  createStreamingAPIClient,
  MastoHttpError,
} from "masto";

const PASSWORD = "secret";
// A page size small enough that the statuses below take several pages.
const PAGE = 10;
// Statuses bob posts for the paging checks.
const BOB_STATUSES = 45;
// How long one event may take to arrive on a stream, in milliseconds.
const EVENT_WAIT = 10_000;
const OOB = "urn:ietf:wg:oauth:2.0:oob";

class Failure extends Error {}

function check(condition, message) {
  if (!condition) {
    throw new Failure(message);
  }
}

const step = (title) => console.log(`== ${title}`);
const started = Date.now();
const ok = (message) =>
  console.log(`ok: [${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${message}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const idsOf = (statuses) => statuses.map((s) => String(s.id));
const newestFirst = (ids) => [...ids].sort((a, b) => (BigInt(b) > BigInt(a) ? 1 : -1));

/** Polls `predicate` until it holds or `ms` pass; whether it held. */
async function waitUntil(predicate, ms) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() >= deadline) {
      return false;
    }
    await sleep(25);
  }
  return true;
}

/** `action` must fail with an HTTP error of `status`. */
async function expectHttpError(status, action, what) {
  try {
    await action();
  } catch (error) {
    check(
      error instanceof MastoHttpError && error.statusCode === status,
      `${what}: expected HTTP ${status}, got ${error?.statusCode} (${error})`,
    );
    ok(`${what}: refused with ${status} (${error.message})`);
    return;
  }
  throw new Failure(`${what}: expected HTTP ${status}, but the call succeeded`);
}

/** Lines the runner writes to stdin, one per request. */
const runnerLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** Asks the runner (tests/it/mastodon/clients.rs) to hide `id` as a moderator. */
async function hideByModerator(id) {
  console.log(`HIDE ${id}`);
  const answer = await runnerLines.next();
  check(!answer.done, `the runner closed stdin instead of hiding ${id}`);
  ok(`the runner hid ${id} as a moderator`);
}

/** Records what one streaming subscription delivers. */
class Collector {
  constructor(name, stream) {
    this.name = name;
    this.stream = stream;
    this.updates = new Map();
    this.deletes = [];
    this.problems = [];
    this.ended = false;
  }

  /** Reads `subscription` until it ends, in the background. */
  consume(subscription) {
    this.subscription = subscription;
    (async () => {
      try {
        for await (const event of subscription) {
          if (!event.stream.includes(this.stream)) {
            this.problems.push(`event for stream ${JSON.stringify(event.stream)}`);
          } else if (event.event === "update") {
            this.updates.set(String(event.payload.id), event.payload);
          } else if (event.event === "delete") {
            this.deletes.push(String(event.payload));
          } else {
            this.problems.push(`unexpected event ${event.event}`);
          }
        }
      } catch (error) {
        this.problems.push(`the subscription failed: ${error}`);
      } finally {
        this.ended = true;
      }
    })();
    return this;
  }

  gotUpdate(id, ms = EVENT_WAIT) {
    return waitUntil(() => this.updates.has(String(id)), ms);
  }

  async expectUpdate(status, text) {
    check(
      await this.gotUpdate(status.id),
      `${this.name}: no update for ${status.id} within ${EVENT_WAIT} ms ` +
        `(got ${[...this.updates.keys()]}, problems ${this.problems})`,
    );
    const streamed = this.updates.get(String(status.id));
    check(
      streamed.content === `<p>${text}</p>` && streamed.account.acct === status.account.acct,
      `${this.name}: the streamed status differs from the posted one: ${JSON.stringify(streamed)}`,
    );
    ok(`${this.name}: update for ${status.id}`);
  }

  async expectDelete(id, why) {
    check(
      await waitUntil(() => this.deletes.includes(String(id)), EVENT_WAIT),
      `${this.name}: no delete for ${id} (${why}) within ${EVENT_WAIT} ms ` +
        `(got ${this.deletes}, problems ${this.problems})`,
    );
    ok(`${this.name}: delete for ${id} (${why})`);
  }

  expectNoProblems() {
    check(this.problems.length === 0, `${this.name}: ${this.problems}`);
  }
}

/** Registers an app, as every Mastodon client does first. */
async function createApp(base, clientName, scopes) {
  const anonymous = createRestAPIClient({ url: base, timeout: 30_000 });
  const app = await anonymous.v1.apps.create({ clientName, redirectUris: OOB, scopes });
  check(app.clientId && app.clientSecret, `apps.create answered ${JSON.stringify(app)}`);
  return app;
}

/** A token for `username` by the password grant, and a REST client that uses it. */
async function logIn(base, app, username, scope) {
  const oauth = createOAuthAPIClient({ url: base, timeout: 30_000 });
  const token = await oauth.token.create({
    grantType: "password",
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    redirectUri: OOB,
    username,
    password: PASSWORD,
    scope,
  });
  check(
    token.accessToken && token.tokenType.toLowerCase() === "bearer",
    `token for ${username}: ${JSON.stringify(token)}`,
  );
  const rest = createRestAPIClient({ url: base, accessToken: token.accessToken, timeout: 30_000 });
  return { rest, token: token.accessToken, oauth };
}

/** A streaming client for `token`, connected to the URL the instance names. */
async function openStreaming(streamingUrl, token) {
  const streaming = createStreamingAPIClient({
    streamingApiUrl: streamingUrl,
    accessToken: token,
    // Fail instead of reconnecting forever, so a refused socket is a failed step.
    retry: false,
  });
  try {
    const socket = await streaming.prepare();
    return { streaming, socket };
  } catch (error) {
    streaming.close();
    throw new Failure(`${error} [${await handshakeDiagnosis(streamingUrl, token)}]`);
  }
}

/** What a plain websocket handshake with the token as subprotocol answers, for a failure
 * message (masto only says that it could not connect). */
function handshakeDiagnosis(streamingUrl, token) {
  const url = new URL("/api/v1/streaming", streamingUrl.replace(/^ws/, "http"));
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(url, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": token,
      },
      timeout: 3000,
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      const echoed = res.headers["sec-websocket-protocol"];
      resolve(`the handshake answered 101, Sec-WebSocket-Protocol ${JSON.stringify(echoed)}`);
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve(`the handshake answered ${res.statusCode}: ${body.slice(0, 200)}`));
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 3 s")));
    req.on("error", (error) => resolve(`the handshake failed: ${error.message}`));
    req.end();
  });
}

/** Subscriptions have no acknowledgement: post until a status arrives on every stream. */
async function waitUntilListening(poster, collectors, label) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const probe = await poster.v1.statuses.create({ status: `${label} probe ${attempt}` });
    let all = true;
    for (const collector of collectors) {
      all = (await collector.gotUpdate(probe.id, 1000)) && all;
    }
    if (all) {
      ok(`${label}: every stream delivers (${attempt + 1} probe(s))`);
      return;
    }
  }
  throw new Failure(
    `${label}: no probe reached every stream: ` +
      collectors
        .map((c) => `${c.name} got ${[...c.updates.keys()]} problems ${c.problems}`)
        .join("; "),
  );
}

/** Follows the paginator's Link headers with `for await`; the pages must hold `expected`
 * newest first, each full but the last, nothing twice, nothing missing. */
async function pageThrough(paginator, expected, what) {
  const seen = [];
  const sizes = [];
  for await (const page of paginator) {
    sizes.push(page.length);
    check(sizes.length <= 50, `${what}: more than 50 pages, the Link header loops`);
    seen.push(...idsOf(page));
  }
  // A last page that comes back empty is allowed; every page before it is full.
  const filled = sizes.at(-1) === 0 ? sizes.slice(0, -1) : sizes;
  check(
    filled.slice(0, -1).every((size) => size === PAGE) && filled.at(-1) <= PAGE,
    `${what}: page sizes ${sizes}, expected ${PAGE} on every page but the last (the Link keeps limit)`,
  );
  check(new Set(seen).size === seen.length, `${what}: duplicates in ${seen}`);
  const missing = expected.filter((id) => !seen.includes(id));
  const extra = seen.filter((id) => !expected.includes(id));
  check(
    missing.length === 0 && extra.length === 0,
    `${what}: missing ${missing}, unexpected ${extra}`,
  );
  check(
    JSON.stringify(seen) === JSON.stringify(newestFirst(seen)),
    `${what}: not newest first: ${seen}`,
  );
  ok(`${what}: ${seen.length} statuses in ${filled.length} pages of ${PAGE}, newest first`);
}

async function main(base) {
  step("apps and tokens");
  const app = await createApp(base, "MiniTwit flow (masto)", "read write follow");
  ok(`apps.create: client_id ${app.clientId}`);
  const alice = await logIn(base, app, "alice", "read write follow");
  const bob = await logIn(base, app, "bob", "read write follow");
  const carol = await logIn(base, app, "carol", "read write follow");
  ok("password grant for alice, bob and carol with read write follow");

  step("accounts");
  const me = await alice.rest.v1.accounts.verifyCredentials();
  check(me.username === "alice" && me.acct === "alice", `verifyCredentials: ${JSON.stringify(me)}`);
  check(me.source !== undefined, `verifyCredentials has no source: ${JSON.stringify(me)}`);
  ok(`verifyCredentials: alice is account ${me.id}`);
  const bobAccount = await alice.rest.v1.accounts.lookup({ acct: "bob" });
  check(
    bobAccount.username === "bob" && /^\d+$/.test(bobAccount.id),
    `lookup bob: ${JSON.stringify(bobAccount)}`,
  );
  ok(`lookup: bob is account ${bobAccount.id}`);
  const followed = await alice.rest.v1.accounts.$select(bobAccount.id).follow();
  check(followed.following === true, `follow answered ${JSON.stringify(followed)}`);
  ok("alice follows bob");

  step("posting");
  const homeIds = [];
  const publicIds = [];
  for (let i = 0; i < BOB_STATUSES; i++) {
    const status = await bob.rest.v1.statuses.create({ status: `bob status ${i}` });
    check(status.content === `<p>bob status ${i}</p>`, `posted content ${status.content}`);
    check(status.account.username === "bob", `posted by ${JSON.stringify(status.account)}`);
    homeIds.push(String(status.id));
    if (i === 10 || i === 30) {
      const mine = await alice.rest.v1.statuses.create({
        status: `alice <b>${i}</b> & co\nsecond line`,
      });
      check(
        mine.content === `<p>alice &lt;b&gt;${i}&lt;/b&gt; &amp; co<br>second line</p>`,
        `alice's escaped content ${mine.content}`,
      );
      homeIds.push(String(mine.id));
    }
    if (i === 20) {
      const stranger = await carol.rest.v1.statuses.create({
        status: "carol, whom alice does not follow",
      });
      publicIds.push(String(stranger.id));
    }
  }
  publicIds.push(...homeIds);
  ok(`${BOB_STATUSES} statuses by bob, 2 by alice (escaped), 1 by carol`);

  step("timelines paged with for await (Link headers)");
  await pageThrough(alice.rest.v1.timelines.home.list({ limit: PAGE }), homeIds, "home");
  await pageThrough(alice.rest.v1.timelines.public.list({ limit: PAGE }), publicIds, "public");
  const newest = newestFirst(homeIds)[0];
  const newer = await bob.rest.v1.statuses.create({ status: "bob, after the first page" });
  const above = await alice.rest.v1.timelines.home.list({ limit: PAGE, minId: newest });
  check(
    JSON.stringify(idsOf(above)) === JSON.stringify([String(newer.id)]),
    `min_id ${newest}: ${idsOf(above)}`,
  );
  ok("min_id finds exactly the status posted after the newest");

  step("streaming over a websocket");
  const instance = await alice.rest.v2.instance.fetch();
  const streamingUrl = instance?.configuration?.urls?.streaming;
  check(
    typeof streamingUrl === "string" && /^wss?:\/\//.test(streamingUrl),
    `/api/v2/instance configuration.urls.streaming is ${JSON.stringify(streamingUrl)}`,
  );
  ok(`/api/v2/instance names the streaming URL ${streamingUrl}`);
  const { streaming } = await openStreaming(streamingUrl, alice.token);
  ok("connected with the token as Sec-WebSocket-Protocol");
  const user = new Collector("user", "user").consume(streaming.user.subscribe());
  const pub = new Collector("public", "public").consume(streaming.public.subscribe());
  await waitUntilListening(bob.rest, [user, pub], "websocket");

  const stranger = await carol.rest.v1.statuses.create({ status: "carol on the stream" });
  const doomed = await bob.rest.v1.statuses.create({ status: "bob deletes this" });
  await user.expectUpdate(doomed, "bob deletes this");
  await pub.expectUpdate(doomed, "bob deletes this");
  await pub.expectUpdate(stranger, "carol on the stream");
  check(
    !user.updates.has(String(stranger.id)),
    `the user stream carried ${stranger.id} by carol, whom alice does not follow`,
  );
  ok("the user stream leaves out carol's status");
  await bob.rest.v1.statuses.$select(doomed.id).remove();
  await user.expectDelete(doomed.id, "its author deleted it");
  await pub.expectDelete(doomed.id, "its author deleted it");

  const abusive = await bob.rest.v1.statuses.create({ status: "a moderator hides this" });
  await user.expectUpdate(abusive, "a moderator hides this");
  await pub.expectUpdate(abusive, "a moderator hides this");
  await hideByModerator(abusive.id);
  await user.expectDelete(abusive.id, "a moderator hid it");
  await pub.expectDelete(abusive.id, "a moderator hid it");
  user.expectNoProblems();
  pub.expectNoProblems();
  streaming.close();

  step("a revoked token");
  const second = await logIn(base, app, "alice", "read write follow");
  const doomedStream = await openStreaming(streamingUrl, second.token);
  const ending = new Collector("revoked token's user", "user").consume(
    doomedStream.streaming.user.subscribe(),
  );
  await waitUntilListening(bob.rest, [ending], "before revoking");
  let closed = false;
  doomedStream.socket.addEventListener("close", () => {
    closed = true;
  });
  await second.oauth.revoke({
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    token: second.token,
  });
  ok("oauth.revoke");
  check(
    await waitUntil(() => closed, EVENT_WAIT),
    `the revoked token's socket was still open after ${EVENT_WAIT} ms`,
  );
  doomedStream.streaming.close();
  ok("the server closed the revoked token's socket");
  await expectHttpError(
    401,
    () => second.rest.v1.accounts.verifyCredentials(),
    "verifyCredentials with the revoked token",
  );
  const refused = createStreamingAPIClient({
    streamingApiUrl: streamingUrl,
    accessToken: second.token,
    retry: false,
  });
  let connected = true;
  try {
    await refused.prepare();
  } catch {
    connected = false;
  }
  refused.close();
  check(!connected, "a websocket with the revoked token was accepted");
  ok("a websocket with the revoked token is refused");
  const stillMe = await alice.rest.v1.accounts.verifyCredentials();
  check(stillMe.username === "alice", "alice's other token died too");
  ok("alice's other token still works");

  step("unfollow");
  const unfollowed = await alice.rest.v1.accounts.$select(bobAccount.id).unfollow();
  check(unfollowed.following === false, `unfollow answered ${JSON.stringify(unfollowed)}`);
  const homeNow = await alice.rest.v1.timelines.home.list({ limit: 40 });
  check(
    homeNow.every((s) => s.account.username !== "bob"),
    `bob's statuses stay on alice's home after unfollowing: ${idsOf(homeNow)}`,
  );
  ok("alice unfollowed bob, and bob left her home timeline");

  step("a read-only token");
  const readOnlyApp = await createApp(base, "MiniTwit flow (masto, read only)", "read");
  const reader = await logIn(base, readOnlyApp, "alice", "read");
  await reader.rest.v1.timelines.home.list({ limit: 1 });
  ok("the read-only token reads the home timeline");
  await expectHttpError(
    403,
    () => reader.rest.v1.statuses.create({ status: "not allowed" }),
    "statuses.create with read only",
  );
  await expectHttpError(
    403,
    () => reader.rest.v1.accounts.$select(bobAccount.id).follow(),
    "follow with read only",
  );

  console.log("PASS: masto flow");
}

const base = (process.argv[2] ?? process.env.MINITWIT_BASE_URL ?? "").replace(/\/+$/, "");
if (!base) {
  console.error("usage: node flow.mjs BASE_URL (or MINITWIT_BASE_URL)");
  process.exit(2);
}
try {
  await main(base);
  process.exit(0);
} catch (error) {
  console.log(
    error instanceof Failure ? `FAIL: ${error.message}` : `FAIL: unexpected error\n${error?.stack ?? error}`,
  );
  if (error instanceof MastoHttpError) {
    console.log(`  HTTP ${error.statusCode}: ${error.description ?? ""}`);
  }
  process.exit(1);
}

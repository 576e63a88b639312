// A bot written with Microsoft's JavaScript Graph client (@microsoft/microsoft-graph-client),
// run by tests/server/test_js_graph_client.py against CallSim's local endpoint.
//
// It does what a real bot does with that client: Client.init with an authProvider and the
// endpoint as baseUrl (listed in customHosts, the client's way to send the token to a host
// other than graph.microsoft.com), places a call, POSTs recordResponse, follows the
// operation's Location with the same client, waits for the operation's final notification on
// its own callback listener, downloads recordingLocation with the notification's
// recordingAccessToken (AuthenticationHandlerOptions for that one request) and hangs up.
//
// Nothing here throws on a failed step: each step's outcome goes into the JSON printed on
// stdout, so the test can assert what the client really did over https and over plain http.
//
//   NODE_EXTRA_CA_CERTS=ca.pem node bot.mjs --base https://127.0.0.1:PORT --out answer.wav
//
// Options: --base URL (scheme://host:port, no version), --version v1.0, --token TOKEN (the
// bot's Graph token), --out FILE (the recording), --timeout-s SECONDS (each wait).

import { writeFile } from "node:fs/promises";
import http from "node:http";
import { parseArgs } from "node:util";

import {
  AuthenticationHandlerOptions,
  Client,
  ResponseType,
} from "@microsoft/microsoft-graph-client";

const { values: args } = parseArgs({
  options: {
    base: { type: "string" },
    version: { type: "string", default: "v1.0" },
    token: { type: "string", default: "token-for-callsim" },
    out: { type: "string", default: "answer.wav" },
    "timeout-s": { type: "string", default: "30" },
  },
});
if (!args.base) {
  console.error("bot.mjs: --base https://127.0.0.1:PORT is required");
  process.exit(2);
}
const waitTimeoutMs = Number(args["timeout-s"]) * 1000;

// -- notifications: a plain http listener on loopback, answering 202 as Graph expects ----------

const notifications = [];
const waiters = [];

function settleWaiters() {
  for (const waiter of [...waiters]) {
    const found = notifications.find(waiter.match);
    if (found !== undefined) {
      waiters.splice(waiters.indexOf(waiter), 1);
      clearTimeout(waiter.timer);
      waiter.resolve(found);
    }
  }
}

function waitFor(match, what) {
  const found = notifications.find(match);
  if (found !== undefined) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const waiter = { match, resolve };
    waiter.timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(waiter), 1);
      reject(new Error(`no notification ${what} within ${waitTimeoutMs} ms`));
    }, waitTimeoutMs);
    waiters.push(waiter);
  });
}

const callState = (callId, state) => (n) =>
  String(n.resourceUrl ?? "").toLowerCase() === `/communications/calls/${callId}`.toLowerCase() &&
  n.resourceData?.state === state;

const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    try {
      const envelope = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      notifications.push(...(envelope.value ?? []));
      settleWaiters();
    } catch {
      // Not JSON: nothing to record; Graph would not send it.
    }
    res.writeHead(202).end();
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const callbackUri = `http://127.0.0.1:${receiver.address().port}/callback`;

// -- the Graph client, as a bot configures it -----------------------------------------------------

const client = Client.init({
  authProvider: (done) => done(null, args.token),
  baseUrl: args.base,
  defaultVersion: args.version,
  customHosts: new Set([new URL(args.base).hostname]),
});

function describeError(err) {
  return { statusCode: err?.statusCode ?? null, code: err?.code ?? null, message: String(err?.message ?? err) };
}

async function step(result, name, body) {
  try {
    result[name] = { ok: true, ...(await body()) };
  } catch (err) {
    result[name] = { ok: false, error: describeError(err) };
  }
  return result[name].ok;
}

const result = { baseUrl: args.base, callbackUri };
let callId = null;
let operationId = null;
let final = null;

try {
  await step(result, "create", async () => {
    const call = await client.api("/communications/calls").post({
      "@odata.type": "#microsoft.graph.call",
      callbackUri,
      targets: [
        {
          "@odata.type": "#microsoft.graph.invitationParticipantInfo",
          identity: { user: { id: "00000000-0000-0000-0000-000000000001" } },
        },
      ],
      requestedModalities: ["audio"],
      mediaConfig: { "@odata.type": "#microsoft.graph.serviceHostedMediaConfig" },
    });
    callId = call.id;
    await waitFor(callState(callId, "established"), "established");
    return { callId };
  });

  if (callId !== null) {
    // RAW: the Response itself, for its Location header (the JSON body alone does not carry it).
    await step(result, "recordResponse", async () => {
      const response = await client
        .api(`/communications/calls/${callId}/recordResponse`)
        .responseType(ResponseType.RAW)
        .post({
          bargeInAllowed: false,
          clientContext: "js-graph-client",
          playBeep: true,
          stopTones: ["#"],
          initialSilenceTimeoutInSeconds: 5,
          maxSilenceTimeoutInSeconds: 3,
          maxRecordDurationInSeconds: 10,
        });
      const operation = await response.json();
      operationId = operation.id ?? null;
      return { status: response.status, location: response.headers.get("location"), operation };
    });
  }

  const location = result.recordResponse?.location;
  if (location) {
    // Follow the absolute Location with the same client, as a bot polls its operation.
    await step(result, "locationGet", async () => ({ operation: await client.api(location).get() }));
  }

  if (operationId !== null) {
    await step(result, "finalNotification", async () => {
      const done = await waitFor(
        (n) => n.changeType === "deleted" && String(n.resourceUrl ?? "").endsWith(`/operations/${operationId}`),
        "for the operation's end",
      );
      final = done.resourceData;
      return { operation: final };
    });
  }

  if (final?.recordingLocation) {
    // The recording needs the notification's token, not the bot's Graph token.
    const recordingToken = final.recordingAccessToken;
    await step(result, "download", async () => {
      const bytes = await client
        .api(final.recordingLocation)
        .middlewareOptions([
          new AuthenticationHandlerOptions({ getAccessToken: async () => recordingToken }),
        ])
        .responseType(ResponseType.ARRAYBUFFER)
        .get();
      await writeFile(args.out, Buffer.from(bytes));
      return { path: args.out, bytes: bytes.byteLength };
    });
  }

  if (callId !== null) {
    await step(result, "hangUp", async () => {
      await client.api(`/communications/calls/${callId}`).delete();
      await waitFor(callState(callId, "terminated"), "terminated");
      return {};
    });
  }
} finally {
  receiver.close();
}

result.notifications = notifications.length;
process.stdout.write(JSON.stringify(result) + "\n");

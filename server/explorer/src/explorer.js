// The Rubrica explorer: GraphiQL 5 with React and the graphql-ws client, bundled by
// ../update_assets.sh into assets/explorer.js (a classic script, so that the page's
// Content-Security-Policy stays at script-src 'self'; no request leaves the server).
import React from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { createClient } from "graphql-ws";
import { parse } from "graphql";
import "graphiql/style.css";

// Monaco's web workers are assets of their own; the page names their URLs (with their
// content hash) in data- attributes of <body>.
const workers = document.body.dataset;
globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    if (label === "json") return new Worker(workers.jsonWorker);
    if (label === "graphql") return new Worker(workers.graphqlWorker);
    return new Worker(workers.editorWorker);
  },
};

// The API token may be handed over in the URL fragment (#token=...), which browsers never
// send to the server. It is removed from the address bar at once, so that it does not
// linger in history or screenshots.
function takeTokenFromFragment() {
  const hash = window.location.hash;
  if (!hash || hash.length < 2) return "";
  const params = new URLSearchParams(hash.slice(1));
  const token = (params.get("token") || "").trim();
  if (params.has("token")) {
    params.delete("token");
    const rest = params.toString();
    try {
      window.history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? "#" + rest : ""));
    } catch (e) {
      // Keeping the fragment is harmless.
    }
  }
  return token;
}

const PLACEHOLDER = "Bearer <your token>";
const bearerHeaders = (token) => JSON.stringify({ Authorization: token ? "Bearer " + token : PLACEHOLDER }, null, 2);

// withoutPlaceholder drops an Authorization header still holding the placeholder: the server
// then says that a token is required (rather than "not valid"), and the placeholder does not
// count as a failed authentication of this address.
function withoutPlaceholder(headers) {
  if (!headers) return headers;
  const out = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!(k.toLowerCase() === "authorization" && v === PLACEHOLDER)) out[k] = v;
  }
  return out;
}

const httpURL = new URL("/graphql", window.location.href).toString();
const wsURL = new URL("/graphql", window.location.href);
wsURL.protocol = wsURL.protocol === "https:" ? "wss:" : "ws:";

// Close codes after which retrying cannot help: the token was refused (4403) or the
// address failed to authenticate too often (4429). graphql-ws retries 4403 by default
// ("might grant access after retry"), which left the explorer spinning for ~45 s.
const FINAL_CLOSE_CODES = [4403, 4429];

const isCloseEvent = (e) => e && typeof e === "object" && typeof e.code === "number" && "reason" in e;

function describeClose(e) {
  if (!isCloseEvent(e)) return e && e.message ? e.message : String(e);
  if (e.code === 4403) {
    return "The server refused the subscription (4403 " + (e.reason || "Forbidden") + "): the token is missing, " +
      "not valid, expired or revoked. Put a valid token in the Headers tab as {\"Authorization\": \"Bearer <token>\"}.";
  }
  if (e.code === 4429) {
    return "Too many failed authentications from this address (4429): wait a minute, then try again with a valid token.";
  }
  return "The websocket closed (" + e.code + (e.reason ? " " + e.reason : "") + ").";
}

function isSubscription(documentAST, operationName) {
  if (!documentAST) return false;
  const ops = documentAST.definitions.filter((d) => d.kind === "OperationDefinition");
  const op = operationName ? ops.find((d) => d.name && d.name.value === operationName) : ops[0];
  return !!op && op.operation === "subscription";
}

// A subscription runs on a websocket of its own (graphql-transport-ws), authenticated with
// the Headers tab's headers as the connection_init payload; a refused token ends it at once
// with the error shown in the result pane.
async function* subscribe(params, headers) {
  const client = createClient({
    url: wsURL.toString(),
    connectionParams: headers || {},
    lazy: true,
    retryAttempts: 3,
    shouldRetry: (e) => isCloseEvent(e) && !FINAL_CLOSE_CODES.includes(e.code),
  });
  try {
    for await (const result of client.iterate(params)) yield result;
  } catch (e) {
    yield { errors: [{ message: describeClose(e) }] };
  } finally {
    client.dispose();
  }
}

const httpFetcher = createGraphiQLFetcher({ url: httpURL, enableIncrementalDelivery: false });

function fetcher(params, opts) {
  opts = opts ? { ...opts, headers: withoutPlaceholder(opts.headers) } : opts;
  // The text sent decides, not opts.documentAST: GraphiQL parses the editor after a pause,
  // so a query just typed may still come with the document before it (a subscription typed
  // over a query would go by POST).
  let documentAST = null;
  try {
    documentAST = parse(params.query);
  } catch (e) {
    documentAST = null;
  }
  if (isSubscription(documentAST, params.operationName)) return subscribe(params, opts && opts.headers);
  return httpFetcher(params, opts ? { ...opts, documentAST: documentAST || undefined } : opts);
}

// The first screen tells where a token goes and how to get one.
const defaultQuery = [
  "# Welcome to the Rubrica explorer.",
  "#",
  "# Every request needs an API token. It goes in the",
  "# Headers tab below, in place of <your token>:",
  "#   {\"Authorization\": \"Bearer <your token>\"}",
  "# or open this page as /#token=<your token>.",
  "#",
  "# Getting a token:",
  "# - `make run` prints one (and a link to this page)",
  "#   for the owner, manager and agent of the demo.",
  "# - On any server:",
  "#   rubrica token create --workspace <id> \\",
  "#     --email you@example.com --role OWNER",
  "#   (rubrica workspace create --name N",
  "#     --owner-email E: a workspace and its first token)",
  "#",
  "# Then run this query with the \u25b6 button (Ctrl-Enter).",
  "{",
  "  viewer {",
  "    name",
  "    role",
  "  }",
  "  contacts(first: 10) {",
  "    totalCount",
  "    edges {",
  "      node {",
  "        id",
  "        displayName",
  "        phone",
  "        email",
  "        tags {",
  "          name",
  "        }",
  "      }",
  "    }",
  "  }",
  "}",
  "",
].join("\n");

const root = createRoot(document.getElementById("graphiql"));

function render(token) {
  root.render(
    React.createElement(GraphiQL, {
      key: token, // a new token (from a new #token=) mounts a fresh explorer holding it
      fetcher,
      defaultQuery,
      initialHeaders: bearerHeaders(token),
      defaultHeaders: bearerHeaders(token),
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    }),
  );
}

render(takeTokenFromFragment());

// Opening "/#token=..." while the page is already at "/" only changes the fragment.
window.addEventListener("hashchange", () => {
  const token = takeTokenFromFragment();
  if (token) render(token);
});

// Boots GraphiQL for the Rubrica explorer. Loaded as a separate file so the
// page's Content-Security-Policy can stay at script-src 'self'.
(function () {
  "use strict";

  // The API token may be handed over in the URL fragment (#token=...), which
  // browsers never send to the server. It is removed from the address bar
  // right away so it does not linger in history or screenshots.
  function takeTokenFromFragment() {
    var hash = window.location.hash;
    if (!hash || hash.length < 2) {
      return "";
    }
    var params = new URLSearchParams(hash.slice(1));
    var token = (params.get("token") || "").trim();
    if (params.has("token")) {
      params.delete("token");
      var rest = params.toString();
      var url = window.location.pathname + window.location.search + (rest ? "#" + rest : "");
      try {
        window.history.replaceState(null, "", url);
      } catch (e) {
        // Ignore: keeping the fragment is harmless.
      }
    }
    return token;
  }

  function bearerHeaders(token) {
    return JSON.stringify({ Authorization: "Bearer " + token }, null, 2);
  }

  var token = takeTokenFromFragment();
  var headers = bearerHeaders(token);

  var httpURL = new URL("/graphql", window.location.href).toString();
  var wsURL = new URL("/graphql", window.location.href);
  wsURL.protocol = wsURL.protocol === "https:" ? "wss:" : "ws:";

  // Queries and mutations go over HTTP with the headers editor's headers.
  // For a subscription GraphiQL's fetcher opens a graphql-ws socket (the client
  // is bundled in graphiql.min.js) whose connectionParams are the headers
  // editor's current headers, e.g. {"Authorization": "Bearer <token>"}.
  var fetcher = GraphiQL.createFetcher({
    url: httpURL,
    subscriptionUrl: wsURL.toString()
  });

  var defaultQuery = [
    "# Welcome to the Rubrica explorer.",
    "# Put your API token in the Headers tab below,",
    "# or open this page as /#token=YOUR_TOKEN.",
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
    ""
  ].join("\n");

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));

  function render(headersOverride) {
    var props = {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false
    };
    if (headersOverride) {
      // GraphiQL copies a changed "headers" prop into the headers editor.
      props.headers = headersOverride;
    }
    root.render(React.createElement(GraphiQL, props));
  }

  render(null);

  // Opening "/#token=..." while the page is already at "/" only changes the
  // fragment and does not reload the page, so pick the new token up here.
  window.addEventListener("hashchange", function () {
    var newToken = takeTokenFromFragment();
    if (newToken) {
      render(bearerHeaders(newToken));
    }
  });
})();

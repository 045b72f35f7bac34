// Apollo Client 4 against a Rubrica server, as a browser page on another origin uses it:
// every request goes through corsFetch (the CORS protocol, preflights included), queries
// and mutations over HttpLink, subscriptions over server-sent events (graphql-sse), @defer
// over multipart/mixed. Reads its inputs from the environment:
//   RUBRICA_URL     the server's /graphql URL
//   RUBRICA_ORIGIN  the page's origin (one of the server's ALLOWED_ORIGINS)
//   RUBRICA_TOKEN   a bearer token
//   RUBRICA_IDS     a JSON array of global ids for nodes(ids:)
//   RUBRICA_NAMES   a JSON array: the firstName nodes must return for each id (null: none)
// Prints what it checked; exits 1 at the first thing that is not as expected.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';
import { print } from 'graphql';
import { createClient } from 'graphql-sse';
import { Observable } from 'rxjs';
import { corsFetch, preflights, responses } from './corsfetch.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const url = env('RUBRICA_URL');
const origin = env('RUBRICA_ORIGIN');
const token = env('RUBRICA_TOKEN');
const ids = JSON.parse(env('RUBRICA_IDS'));
const names = JSON.parse(env('RUBRICA_NAMES'));

function check(ok, what, got) {
  if (!ok) {
    console.error(`FAIL ${what}: got ${JSON.stringify(got)}`);
    process.exit(1);
  }
  console.log(`ok   ${what}`);
}

// Subscriptions over graphql-sse's distinct connections mode, as an Apollo link.
class SSELink extends ApolloLink {
  constructor(options) {
    super();
    this.client = createClient(options);
  }
  request(operation) {
    return new Observable((sink) =>
      this.client.subscribe(
        { query: print(operation.query), variables: operation.variables, operationName: operation.operationName },
        { next: (v) => sink.next(v), complete: () => sink.complete(), error: (e) => sink.error(e) },
      ),
    );
  }
}

const fetchFn = corsFetch(origin);
const headers = { Authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' };
const http = new HttpLink({ uri: url, fetch: fetchFn, headers });
const sse = new SSELink({ url, fetchFn, headers, retryAttempts: 0 });
const isSubscription = ({ query }) =>
  query.definitions.some((d) => d.kind === 'OperationDefinition' && d.operation === 'subscription');
const client = new ApolloClient({
  link: ApolloLink.split(isSubscription, sse, http),
  cache: new InMemoryCache({ possibleTypes: { Node: ['Contact', 'Tag', 'Member', 'Channel'] } }),
  incrementalHandler: new Defer20220824Handler(),
});

// nodes(ids:): the objects in order, null where an id names nothing.
const nodes = await client.query({
  query: gql`query Refetch($ids: [ID!]!) { nodes(ids: $ids) { id ... on Contact { firstName } } }`,
  variables: { ids },
});
check(!nodes.error, 'nodes answered without error', nodes.error?.message);
const got = nodes.data.nodes.map((n) => (n ? n.firstName : null));
check(JSON.stringify(got) === JSON.stringify(names), `nodes(ids:) returned ${JSON.stringify(got)}`, got);
check(preflights.some((p) => p.method === 'POST' && p.headers.includes('authorization')), 'the POST went through a CORS preflight', preflights);

// The refetched contacts are in the normalised cache, under their ids.
const cached = client.cache.extract();
check(ids.every((id, i) => names[i] === null || cached[`Contact:${id}`]?.firstName === names[i]), 'nodes filled the normalised cache', Object.keys(cached));

// @defer: the initial result, then the deferred fragment (multipart/mixed).
const deferred = await client.query({
  query: gql`query Deferred($id: ID!) { contact(id: $id) { id ... on Contact @defer { firstName } } }`,
  variables: { id: ids[names.findIndex((n) => n !== null)] },
  fetchPolicy: 'network-only',
});
check(deferred.data?.contact?.firstName === names.find((n) => n !== null), '@defer delivered the deferred field', deferred);
check(responses.at(-1).contentType.startsWith('multipart/mixed'), '@defer was answered in parts (multipart/mixed)', responses.at(-1));

// A subscription over SSE: contacts created after it started arrive as events.
const events = [];
const sub = client
  .subscribe({ query: gql`subscription { contactEvents { type contact { id firstName } } }` })
  .subscribe({ next: (r) => events.push(r), error: (e) => events.push({ error: String(e) }) });
const deadline = Date.now() + 15000;
for (let i = 0; events.length === 0 && Date.now() < deadline; i++) {
  const r = await client.mutate({
    mutation: gql`mutation Ping($in: CreateContactInput!) { createContact(input: $in) { contact { id } } }`,
    variables: { in: { firstName: `Ping ${i}` } },
  });
  check(!r.error, `createContact Ping ${i}`, r.error?.message);
  await new Promise((resolve) => setTimeout(resolve, 300));
}
sub.unsubscribe();
const first = events[0];
check(first && !first.error && first.data?.contactEvents?.type === 'CREATED' && /^Ping \d+$/.test(first.data.contactEvents.contact.firstName),
  'the SSE subscription delivered a CREATED event', events);
check(responses.some((r) => r.contentType?.startsWith('text/event-stream')), 'the subscription was answered as an event stream', responses);

// Another origin gets no CORS headers: the page cannot read the answer.
let refused = false;
try {
  await corsFetch('https://elsewhere.example')(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{"query":"{ __typename }"}' });
} catch (e) {
  refused = e instanceof TypeError;
}
check(refused, 'a page on another origin is refused', refused);
process.exit(0);

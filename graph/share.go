package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"rubrica"
)

// Subscriptions that are the same share one execution per event. A dashboard opened by
// every agent of a workspace subscribes as many times to the same document with the same
// variables; resolving each event once per subscriber made delivery grow with their number
// (10,000 subscribers: p50 195-219 ms after the mutation's reply). So the subscriptions of a
// workspace with the same document, operation, variables and role (and member, when the
// document selects a field whose value depends on the viewer: viewerFields) form a group:
// the first one's operation runs once, under a context of its own that outlives any one
// subscriber, and every response it yields (the same bytes) goes to each subscriber's
// buffer. A subscriber whose buffer is full gets, after what it has, the error the event bus
// gives a subscriber that fell behind, and its stream ends; the others go on. The group's
// execution ends when its last subscriber leaves, or when it ends (an error at subscribe
// time, which every subscriber of the group shares).
//
// What runs once per group, not per subscriber: the resolvers and the response middlewares
// (loaders, the response limits, the operation metrics). What runs per subscriber: the
// transports, and the operation middlewares added after ShareSubscriptions (the server adds
// it last, so the per-member subscription cap counts each subscriber).
//
// A transport that holds many subscribers need not park a goroutine on each one's next
// response: with a Push in the subscription's context (WithPush), the group calls the Push's
// wake function when a response (or the end) waits, and the transport then takes it through
// the ResponseHandler without blocking. The group wakes its subscribers from several
// goroutines at once (wake), so that the transport's writes of one event run in parallel.

// viewerFields are the fields, by type, whose value depends on the member who asks.
var viewerFields = map[string]map[string]bool{
	"Merge": {"canUndo": true, "undoBlockedReason": true},
	"Query": {"viewer": true},
}

// subscriberBuffer is how many responses wait for one subscriber before it is dropped.
// A pushed subscriber takes its response as it is woken: its transport buffers instead.
const (
	subscriberBuffer = 64
	pushedBuffer     = 4
)

// wakeChunk is how many subscribers one goroutine of the fan-out wakes.
const wakeChunk = 256

// SharedSubscriptions groups the subscriptions of one server (see above).
type SharedSubscriptions struct {
	mu      sync.Mutex
	groups  map[groupKey]*subscriptionGroup
	present graphql.ErrorPresenterFunc
}

// NewSharedSubscriptions returns the groups of a server; errors of their own are presented as
// PresentError(logger) presents them.
func NewSharedSubscriptions(logger *slog.Logger) *SharedSubscriptions {
	return &SharedSubscriptions{groups: map[groupKey]*subscriptionGroup{}, present: PresentError(logger)}
}

// Subscribers returns how many subscriptions are established: the subscribers of groups
// whose operation runs.
func (s *SharedSubscriptions) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.groups {
		if g.started {
			n += len(g.members)
		}
	}
	return n
}

// groupKey is what subscriptions of one group have in common.
type groupKey struct {
	workspace, role, member     string // member: "" unless the document asks for the viewer
	query, operation, variables string
}

type subscriptionGroup struct {
	key     groupKey
	members map[*groupMember]bool
	started bool // its operation runs: its subscribers get every event from now on
	ended   bool
	cancel  context.CancelFunc
	woken   []*groupMember // the run loop's, reused: the pushed members an event reached
}

// groupMember is one subscriber of a group: its buffer, closed when its stream ends.
type groupMember struct {
	ch      chan *graphql.Response
	dropped bool        // set before ch is closed: it fell behind
	closed  atomic.Bool // set before ch is closed
	push    *Push       // nil: its transport waits on ch
	done    bool        // pushed: its handler returned nil (only its transport's drain reads it)
}

// Push, in a subscription's context, has the subscription's group tell the transport when a
// response waits instead of the transport waiting for it (see above). Without a group (not a
// subscription, or not shared) the Push is left unused: Joined is false.
type Push struct {
	wake   func()
	s      *SharedSubscriptions
	key    groupKey
	member *groupMember
}

type pushKey struct{}

// WithPush returns ctx with a Push whose group calls wake, from any goroutine, each time the
// subscription has a response or its end waiting. The transport then calls the subscription's
// ResponseHandler while Pending reports true; it does not block. wake must not block long: it
// holds up the subscribers woken after it.
func WithPush(ctx context.Context, wake func()) (context.Context, *Push) {
	p := &Push{wake: wake}
	return context.WithValue(ctx, pushKey{}, p), p
}

// Joined reports whether the subscription joined a group, which then wakes it.
func (p *Push) Joined() bool { return p.member != nil }

// Pending reports whether the ResponseHandler has a response, or the end, to return now.
func (p *Push) Pending() bool {
	m := p.member
	return m != nil && !m.done && (len(m.ch) > 0 || m.closed.Load())
}

// Drop ends a subscriber that fell behind its transport: after what it has, its handler
// returns the error the event bus gives a subscriber that fell behind, then nil. It does not
// wake the transport, which drains on.
func (p *Push) Drop() {
	if p.member == nil {
		return
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	g := p.s.groups[p.key]
	if g == nil || !g.members[p.member] {
		return
	}
	p.member.dropped = true
	p.member.close()
	delete(g.members, p.member)
	if len(g.members) == 0 {
		p.s.endLocked(g)
	}
}

// close closes the member's buffer; under the group's lock.
func (m *groupMember) close() {
	m.closed.Store(true)
	close(m.ch)
}

// wake wakes the pushed members ms and returns when each one's wake returned. Chunks of
// wakeChunk members run as goroutines of their own, so that the runtime spreads them over
// its processors, and a processor held up (its thread descheduled by a busy machine, say)
// holds up one chunk, not half of the fan-out.
func wake(ms []*groupMember) {
	if len(ms) <= wakeChunk || runtime.GOMAXPROCS(0) == 1 {
		for _, m := range ms {
			m.push.wake()
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < len(ms); i += wakeChunk {
		part := ms[i:min(i+wakeChunk, len(ms))]
		wg.Go(func() {
			for _, m := range part {
				m.push.wake()
			}
		})
	}
	wg.Wait()
}

// Middleware is the operation middleware: it groups subscriptions, other operations pass
// through.
func (s *SharedSubscriptions) Middleware(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	a, ok := rubrica.ActorFromContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription || !ok {
		return next(ctx)
	}
	key, err := newGroupKey(a, oc)
	if err != nil {
		return next(ctx)
	}
	p, _ := ctx.Value(pushKey{}).(*Push)
	m, start := s.join(key, p)
	if start != nil {
		start(ctx, next)
	}
	// The subscription's context ends when its client completes it or goes: it leaves then
	// (its buffer closes), whether or not its transport asks for the next response again, and
	// without a goroutine waiting for it. The handler's own context argument is no guide: the
	// transport passes the one the operation ran under, the group's for its first subscriber.
	context.AfterFunc(ctx, func() { s.leave(key, m) })
	return func(context.Context) *graphql.Response {
		r, ok := <-m.ch
		if ctx.Err() != nil {
			m.done = true
			return nil
		}
		r = s.next(ctx, m, r, ok)
		m.done = r == nil
		return r
	}
}

// next is a subscriber's next response: r, or after its buffer closed (!ok) the error that
// dropped it, once, then nil.
func (s *SharedSubscriptions) next(ctx context.Context, m *groupMember, r *graphql.Response, ok bool) *graphql.Response {
	if ok {
		return r
	}
	if m.dropped {
		m.dropped = false
		return &graphql.Response{Errors: gqlerror.List{s.present(ctx, rubrica.ErrSubscriberTooSlow)}}
	}
	return nil
}

// join adds a subscriber to key's group, making the group if there is none; then start is
// the function that runs the group's operation (nil when the group runs already).
// A Push p (nil: none) is bound to the member.
func (s *SharedSubscriptions) join(key groupKey, p *Push) (*groupMember, func(context.Context, graphql.OperationHandler)) {
	m := &groupMember{ch: make(chan *graphql.Response, subscriberBuffer)}
	if p != nil {
		m.ch = make(chan *graphql.Response, pushedBuffer)
		m.push, p.s, p.key, p.member = p, s, key, m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[key]; g != nil && !g.ended {
		g.members[m] = true
		return m, nil
	}
	g := &subscriptionGroup{key: key, members: map[*groupMember]bool{m: true}}
	s.groups[key] = g
	return m, func(ctx context.Context, next graphql.OperationHandler) {
		// The group's own context: the first subscriber's values (actor, operation), not its
		// end.
		gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.mu.Lock()
		g.cancel = cancel
		ended := g.ended
		s.mu.Unlock()
		if ended { // every subscriber left before it started
			cancel()
			return
		}
		responses := next(gctx)
		s.mu.Lock()
		g.started = true
		s.mu.Unlock()
		go s.run(gctx, g, responses)
	}
}

// run sends every response of the group's operation to its subscribers, until it ends.
func (s *SharedSubscriptions) run(ctx context.Context, g *subscriptionGroup, responses graphql.ResponseHandler) {
	defer s.end(g)
	for {
		r := responses(ctx)
		if r == nil {
			return
		}
		r.Data = bytes.Clone(r.Data) // the executor writes the next event over its buffer
		s.mu.Lock()
		woken := g.woken[:0]
		for m := range g.members {
			select {
			case m.ch <- r:
			default: // fell behind: what it has, then the error
				m.dropped = true
				m.close()
				delete(g.members, m)
			}
			if m.push != nil {
				woken = append(woken, m)
			}
		}
		if len(g.members) == 0 {
			s.endLocked(g)
		}
		s.mu.Unlock()
		wake(woken)
		clear(woken)
		g.woken = woken
	}
}

// leave takes a subscriber out of its group, and ends the group with its last subscriber.
func (s *SharedSubscriptions) leave(key groupKey, m *groupMember) {
	s.mu.Lock()
	g := s.groups[key]
	if g == nil || !g.members[m] {
		s.mu.Unlock()
		return
	}
	delete(g.members, m)
	m.close()
	if len(g.members) == 0 {
		s.endLocked(g)
	}
	s.mu.Unlock()
	if m.push != nil {
		m.push.wake()
	}
}

// end ends the group: its operation stops, its subscribers' streams complete.
func (s *SharedSubscriptions) end(g *subscriptionGroup) {
	s.mu.Lock()
	s.endLocked(g)
	var woken []*groupMember
	for m := range g.members {
		m.close()
		delete(g.members, m)
		if m.push != nil {
			woken = append(woken, m)
		}
	}
	s.mu.Unlock()
	wake(woken)
}

func (s *SharedSubscriptions) endLocked(g *subscriptionGroup) {
	g.ended = true
	if s.groups[g.key] == g {
		delete(s.groups, g.key)
	}
	if g.cancel != nil {
		g.cancel()
	}
}

// newGroupKey is the key of a subscription's group: its workspace, role, document and
// variables (as canonical JSON), and its member only when the document asks for the viewer.
func newGroupKey(a rubrica.Actor, oc *graphql.OperationContext) (groupKey, error) {
	vars, err := json.Marshal(oc.Variables) // maps marshal with sorted keys
	if err != nil {
		return groupKey{}, err
	}
	k := groupKey{workspace: a.WorkspaceID, role: string(a.Role), query: oc.RawQuery,
		operation: oc.OperationName, variables: string(vars)}
	if asksForViewer(oc.Doc, oc.Operation.SelectionSet) {
		k.member = a.MemberID
	}
	return k, nil
}

// asksForViewer reports whether sel selects, at any depth, a field of viewerFields.
func asksForViewer(doc *ast.QueryDocument, sel ast.SelectionSet) bool {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) bool
	walk = func(sel ast.SelectionSet) bool {
		for _, s := range sel {
			switch s := s.(type) {
			case *ast.Field:
				if s.ObjectDefinition != nil && viewerFields[s.ObjectDefinition.Name][s.Name] {
					return true
				}
				if walk(s.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if walk(s.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if seen[s.Name] {
					continue
				}
				seen[s.Name] = true
				if f := doc.Fragments.ForName(s.Name); f != nil && walk(f.SelectionSet) {
					return true
				}
			}
		}
		return false
	}
	return walk(sel)
}

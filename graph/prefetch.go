package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"

	"rubrica"
	"rubrica/graph/generated"
	"rubrica/graph/listexec"
)

// A contact's batched fields are prefetched by the parent that returns the contacts (a page,
// contact(id), node(id), a mutation payload): one statement per selected field whatever the
// number of contacts, run together, their results primed into the request's loaders. The field
// resolvers then find every key in the loaders' caches: no batch wait, and the same statements
// whatever the page size and however the goroutines of its items are scheduled. A fetch that
// fails primes nothing: the resolvers then load (and report) those fields themselves.

// contactPrefetch fetches one batched field of a contact for a set of contacts, primes the
// loader that resolves it and, when it succeeded, marks in ready what no longer waits: the
// field, and the fields below it it fetched too. f is the field as selected.
type contactPrefetch func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, f graphql.CollectedField, ready *readyFields)

// contactPrefetches holds, by field of Contact, how to prefetch it, for the fields that
// contactLists does not name.
var contactPrefetches = map[string]contactPrefetch{
	"workflowRuns": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, f graphql.CollectedField, ready *readyFields) {
		addIf(ready, primeAll(ctx, l.WorkflowRuns, cs.ids, r.Services.Workflows.FindWorkflowRunsByContactIDs), "Contact", f.Name)
	},
	"mergeSuggestions": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, f graphql.CollectedField, ready *readyFields) {
		addIf(ready, primeAll(ctx, l.ContactSuggestions, cs.ids, r.Services.Merges.FindSuggestionsByContactIDs), "Contact", f.Name)
	},
	"duplicateValues": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, f graphql.CollectedField, ready *readyFields) {
		addIf(ready, primeAll(ctx, l.DuplicateValues, cs.ids, r.Services.Merges.FindDuplicateValues), "Contact", f.Name)
	},
	"conversationStatus": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, f graphql.CollectedField, ready *readyFields) {
		addIf(ready, primeAll(ctx, l.ConversationStatus, cs.ids, r.Services.Conversations.FindLatestConversationStatus), "Contact", f.Name)
	},
}

// contactLists holds, by field of Contact, what it needs of the lists that
// Contacts.FindContactLists reads: the fields it names are fetched together, in at most two
// statements run at once (splitLists; one more for the tags' contact counts, when selected).
var contactLists = map[string]func(ctx context.Context, set *rubrica.ContactListSet, f graphql.CollectedField){
	"tags": func(ctx context.Context, set *rubrica.ContactListSet, f graphql.CollectedField) {
		set.Tags = true
		set.TagCounts = selects(ctx, f, "contactCount", "Tag", "Node")
	},
	"customFields": func(_ context.Context, set *rubrica.ContactListSet, _ graphql.CollectedField) {
		set.CustomValues = true
	},
	"channels": func(_ context.Context, set *rubrica.ContactListSet, _ graphql.CollectedField) { set.Links = true },
	"assignee": func(_ context.Context, set *rubrica.ContactListSet, _ graphql.CollectedField) { set.Assignees = true },
}

// splitLists splits the lists to read into the two statements that read them, at the same
// time: tags (and their counts) with custom values, links with assignees. The same work as
// one statement, but PostgreSQL runs it on two backends: one page's lists take about half
// the time, which a request at concurrency 1 waits.
func splitLists(set rubrica.ContactListSet) []rubrica.ContactListSet {
	var out []rubrica.ContactListSet
	for _, part := range []rubrica.ContactListSet{
		{Tags: set.Tags, TagCounts: set.TagCounts, CustomValues: set.CustomValues},
		{Links: set.Links, Assignees: set.Assignees},
	} {
		if part.Tags || part.CustomValues || part.Links || part.Assignees {
			out = append(out, part)
		}
	}
	return out
}

// readyFields are the fields a parent's prefetch made resolvable without waiting, over the
// generated table of the fields that may wait: the listexec.Table that decides whether the
// parent settles its contacts.
type readyFields struct {
	mu    sync.Mutex
	ready map[[2]string]bool
}

// addIf marks field of typ ready if the fetch found something (a nil map: it failed).
func addIf[V any](t *readyFields, found map[string]V, typ, field string) {
	if found != nil {
		t.add(typ, field)
	}
}

func (t *readyFields) add(typ, field string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ready == nil {
		t.ready = map[[2]string]bool{}
	}
	t.ready[[2]string{typ, field}] = true
}

// addAll marks ready what other holds.
func (t *readyFields) addAll(other *readyFields) {
	for k := range other.ready {
		t.add(k[0], k[1])
	}
}

// Waits is the generated table, but for the fields made ready.
func (t *readyFields) Waits(typ, field string) bool {
	t.mu.Lock()
	ready := t.ready[[2]string{typ, field}]
	t.mu.Unlock()
	return !ready && generated.FieldsThatMayWait.Waits(typ, field)
}

// prefetchSet is the contacts a parent returns, and their ids.
type prefetchSet struct {
	contacts []*rubrica.Contact
	ids      []string
}

type fetchFunc[V any] func(context.Context, []string) (map[string]V, error)

// primeAll fetches keys and primes the loader with the result for each, the zero value for a
// key the result lacks (as the loader itself would return). It returns what it found, nil if
// the fetch failed.
func primeAll[V any](ctx context.Context, p *dataloader.Loader[string, V], keys []string, fetch fetchFunc[V]) map[string]V {
	if len(keys) == 0 {
		return map[string]V{}
	}
	found, err := fetch(ctx, keys)
	if err != nil {
		return nil
	}
	for _, k := range keys {
		p.Prime(ctx, k, found[k])
	}
	if found == nil {
		found = map[string]V{}
	}
	return found
}

// prefetchContacts runs, for contacts a parent returns under the fields parents (the fields
// whose values are those contacts), the prefetch of every batched field the parents select
// on Contact, together, and returns when all are primed. Fields ready holds were primed
// already (by a mutation, from its transaction): they are not fetched again. If then nothing the
// parents select waits, it settles them (listexec.Settle): gqlgen resolves the contacts'
// fields, and the lists below, inline. Contacts made by a merge preview are left out: their
// fields never come from the loaders.
func (r *Resolver) prefetchContacts(ctx context.Context, contacts []*rubrica.Contact, parents []graphql.CollectedField, ready *readyFields) {
	l := r.loaders(ctx)
	var cs prefetchSet
	seen := map[string]bool{}
	for _, c := range contacts {
		if c == nil || seen[c.ID] || r.previewOf(ctx, c) != nil {
			continue
		}
		seen[c.ID] = true
		cs.contacts = append(cs.contacts, c)
		cs.ids = append(cs.ids, c.ID)
	}
	if len(cs.ids) == 0 {
		return
	}
	if ready == nil {
		ready = &readyFields{}
	}
	lists, others := prefetchPlan(ctx, parents, ready)
	var wg sync.WaitGroup
	for _, f := range others {
		fetch := contactPrefetches[f.Name]
		wg.Go(func() { fetch(ctx, r, l, cs, f, ready) })
	}
	for _, part := range splitLists(lists) {
		wg.Go(func() {
			if found, err := r.Services.Contacts.FindContactLists(ctx, cs.ids, part); err == nil {
				ready.addAll(r.primeLists(ctx, found, cs.contacts...))
			}
		})
	}
	wg.Wait()
	for _, p := range parents {
		if !listexec.MayWait(ready, "Contact", p.Selections) {
			listexec.Settle(ctx, p.Field)
		}
	}
}

// prefetchPlan returns what the parents select on Contact that ready lacks: the lists to
// read (contactLists) and the other fields that contactPrefetches fetches, each field once.
func prefetchPlan(ctx context.Context, parents []graphql.CollectedField, ready *readyFields) (rubrica.ContactListSet, []graphql.CollectedField) {
	var lists rubrica.ContactListSet
	var others []graphql.CollectedField
	done := map[string]bool{}
	for _, f := range contactFields(ctx, parents) {
		if done[f.Name] || !ready.Waits("Contact", f.Name) {
			continue
		}
		done[f.Name] = true
		if need, ok := contactLists[f.Name]; ok {
			need(ctx, &lists, f)
		} else if _, ok := contactPrefetches[f.Name]; ok {
			others = append(others, f)
		}
	}
	return lists, others
}

// findContact reads the contact the current field returns (contact, node) with the lists
// its selection names, in one statement, and prefetches the rest of what it selects.
func (r *Resolver) findContact(ctx context.Context, id string) (*rubrica.Contact, error) {
	parents := contactParents(ctx)
	lists, _ := prefetchPlan(ctx, parents, &readyFields{})
	c, found, err := r.Services.Contacts.FindContactWithLists(ctx, id, lists)
	if err != nil {
		return nil, err
	}
	r.prefetchContacts(ctx, []*rubrica.Contact{c}, parents, r.primeLists(ctx, found, c))
	return c, nil
}

// contactParents returns the fields at path below the current field whose values are
// contacts, each step a field of a type: the current field itself for a field that returns
// contacts (contact, node), {"ContactConnection", "edges"}, {"ContactEdge", "node"} for a
// connection, the payload's field for a mutation. Fragments and @skip/@include are applied.
func contactParents(ctx context.Context, path ...step) []graphql.CollectedField {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return nil
	}
	op := graphql.GetOperationContext(ctx)
	fields := []graphql.CollectedField{fc.Field}
	for _, st := range path {
		var next []graphql.CollectedField
		for _, f := range fields {
			for _, sub := range graphql.CollectFields(op, f.Selections, []string{st.typ}) {
				if sub.Name == st.field {
					next = append(next, sub)
				}
			}
		}
		fields = next
	}
	return fields
}

// contactFields returns the fields parents select on Contact.
func contactFields(ctx context.Context, parents []graphql.CollectedField) []graphql.CollectedField {
	var out []graphql.CollectedField
	for _, f := range parents {
		out = append(out, graphql.CollectFields(graphql.GetOperationContext(ctx), f.Selections, []string{"Contact", "Node"})...)
	}
	return out
}

// step is one field of a path through a selection: the field's name and the type it is on.
type step struct{ typ, field string }

// selects reports whether field f selects name on a value of one of the types satisfies.
func selects(ctx context.Context, f graphql.CollectedField, name string, satisfies ...string) bool {
	for _, sub := range graphql.CollectFields(graphql.GetOperationContext(ctx), f.Selections, satisfies) {
		if sub.Name == name {
			return true
		}
	}
	return false
}

// prefetchContact prefetches what the current field selects on the contact it returns.
func (r *Resolver) prefetchContact(ctx context.Context, c *rubrica.Contact, path ...step) {
	if c != nil {
		r.prefetchContacts(ctx, []*rubrica.Contact{c}, contactParents(ctx, path...), nil)
	}
}

// prefetchPayload prefetches, for a mutation whose payload (of type typ) shows contacts in
// fields, what those fields select and ready (what the mutation primed) lacks.
func (r *Resolver) prefetchPayload(ctx context.Context, ready *readyFields, contacts []*rubrica.Contact, typ string, fields ...string) {
	var parents []graphql.CollectedField
	for _, f := range fields {
		parents = append(parents, contactParents(ctx, step{typ, f})...)
	}
	r.prefetchContacts(ctx, contacts, parents, ready)
}

// prefetchPage prefetches what the current contacts connection selects on its nodes.
func (r *Resolver) prefetchPage(ctx context.Context, page *rubrica.Connection[*rubrica.Contact]) {
	contacts := make([]*rubrica.Contact, len(page.Edges))
	for i, e := range page.Edges {
		contacts[i] = e.Node
	}
	r.prefetchContacts(ctx, contacts, contactParents(ctx, step{"ContactConnection", "edges"}, step{"ContactEdge", "node"}), nil)
}

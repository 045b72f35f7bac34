package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"

	"rubrica"
)

// A contact's batched fields are prefetched by the parent that returns the contacts (a page,
// contact(id), node(id), a mutation payload): one statement per selected field whatever the
// number of contacts, run together, their results primed into the request's loaders. The field
// resolvers then find every key in the loaders' caches: no batch wait, and the same statements
// whatever the page size and however the goroutines of its items are scheduled. A fetch that
// fails primes nothing: the resolvers then load (and report) those fields themselves.

// contactPrefetch fetches one batched field of a contact for a set of contacts and primes
// the loader that resolves it; f is the field as selected, for what it selects in turn.
type contactPrefetch func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, f graphql.CollectedField)

// contactPrefetches holds, by field of Contact, how to prefetch it.
var contactPrefetches = map[string]contactPrefetch{
	"tags":     prefetchTags,
	"assignee": prefetchAssignees,
	"channels": prefetchChannels,
	"customFields": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, _ graphql.CollectedField) {
		primeAll(ctx, l.CustomValues, cs.ids, r.Services.Contacts.FindCustomValuesByContactIDs)
	},
	"workflowRuns": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, _ graphql.CollectedField) {
		primeAll(ctx, l.WorkflowRuns, cs.ids, r.Services.Workflows.FindWorkflowRunsByContactIDs)
	},
	"mergeSuggestions": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, _ graphql.CollectedField) {
		primeAll(ctx, l.ContactSuggestions, cs.ids, r.Services.Merges.FindSuggestionsByContactIDs)
	},
	"duplicateValues": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, _ graphql.CollectedField) {
		primeAll(ctx, l.DuplicateValues, cs.ids, r.Services.Merges.FindDuplicateValues)
	},
	"conversationStatus": func(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, _ graphql.CollectedField) {
		primeAll(ctx, l.ConversationStatus, cs.ids, r.Services.Conversations.FindLatestConversationStatus)
	},
}

// prefetchSet is the contacts a parent returns: their ids and their assignees' ids.
type prefetchSet struct {
	ids, assignees []string
}

type fetchFunc[V any] func(context.Context, []string) (map[string]V, error)

// primeAll fetches keys and primes the loader with the result for each, the zero value for a
// key the result lacks (as the loader itself would return).
func primeAll[V any](ctx context.Context, p *dataloader.Loader[string, V], keys []string, fetch fetchFunc[V]) map[string]V {
	if len(keys) == 0 {
		return nil
	}
	found, err := fetch(ctx, keys)
	if err != nil {
		return nil
	}
	for _, k := range keys {
		p.Prime(ctx, k, found[k])
	}
	return found
}

// prefetchTags prefetches the contacts' tags and, if selected, the tags' contact counts.
func prefetchTags(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, f graphql.CollectedField) {
	tags := primeAll(ctx, l.ContactTags, cs.ids, r.Services.Tags.FindTagsByContactIDs)
	if tags == nil || !selects(ctx, f, "contactCount", "Tag", "Node") {
		return
	}
	var tagIDs []string
	seen := map[string]bool{}
	for _, id := range cs.ids {
		for _, t := range tags[id] {
			if !seen[t.ID] {
				seen[t.ID] = true
				tagIDs = append(tagIDs, t.ID)
			}
		}
	}
	primeAll(ctx, l.TagCounts, tagIDs, r.Services.Tags.CountContactsByTagIDs)
}

func prefetchAssignees(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, _ graphql.CollectedField) {
	primeAll(ctx, l.Members, cs.assignees, r.Services.Workspaces.FindMembersByIDs)
}

// prefetchChannels prefetches the workspace's channels and the contacts' links, together.
func prefetchChannels(ctx context.Context, r *Resolver, l *Loaders, cs prefetchSet, _ graphql.CollectedField) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if channels, err := r.Services.Channels.FindChannels(ctx); err == nil {
			l.Channels.Prime(ctx, workspaceChannels, channels)
		}
	})
	primeAll(ctx, l.ContactLinks, cs.ids, r.Services.Channels.FindLinksByContactIDs)
	wg.Wait()
}

// prefetchContacts runs, for contacts a parent returns, the prefetch of every batched field
// that fields (the selection on Contact) holds, together, and returns when all are primed.
// Contacts made by a merge preview are left out: their fields never come from the loaders.
func (r *Resolver) prefetchContacts(ctx context.Context, contacts []*rubrica.Contact, fields []graphql.CollectedField) {
	if len(fields) == 0 {
		return
	}
	l := r.loaders(ctx)
	var cs prefetchSet
	seen := map[string]bool{}
	for _, c := range contacts {
		if c == nil || seen[c.ID] || r.previewOf(ctx, c) != nil {
			continue
		}
		seen[c.ID] = true
		cs.ids = append(cs.ids, c.ID)
		if c.AssigneeID != nil {
			cs.assignees = append(cs.assignees, *c.AssigneeID)
		}
	}
	if len(cs.ids) == 0 {
		return
	}
	var wg sync.WaitGroup
	done := map[string]bool{}
	for _, f := range fields {
		fetch, ok := contactPrefetches[f.Name]
		if !ok || done[f.Name] {
			continue
		}
		done[f.Name] = true
		wg.Go(func() { fetch(ctx, r, l, cs, f) })
	}
	wg.Wait()
}

// selectedContacts returns the fields selected on Contact at path below the current field,
// each step a field of a type: none for a field that returns contacts itself (contact, node),
// {"ContactConnection", "edges"}, {"ContactEdge", "node"} for a connection, the payload's
// field for a mutation. Fragments and @skip/@include are applied.
func selectedContacts(ctx context.Context, path ...step) []graphql.CollectedField {
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
	var out []graphql.CollectedField
	for _, f := range fields {
		out = append(out, graphql.CollectFields(op, f.Selections, []string{"Contact", "Node"})...)
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
		r.prefetchContacts(ctx, []*rubrica.Contact{c}, selectedContacts(ctx, path...))
	}
}

// prefetchPage prefetches what the current contacts connection selects on its nodes.
func (r *Resolver) prefetchPage(ctx context.Context, page *rubrica.Connection[*rubrica.Contact]) {
	contacts := make([]*rubrica.Contact, len(page.Edges))
	for i, e := range page.Edges {
		contacts[i] = e.Node
	}
	r.prefetchContacts(ctx, contacts, selectedContacts(ctx, step{"ContactConnection", "edges"}, step{"ContactEdge", "node"}))
}

package graph

import (
	"context"

	"github.com/graph-gophers/dataloader/v7"

	"rubrica"
)

// primeLists primes the request's loaders with what a mutation read in its transaction: the
// contacts and the lists read with them. Its payload then resolves them from the loaders'
// caches, as they were committed, without a statement after the commit. It returns the
// fields it made ready, for prefetchPayload.
func (r *Resolver) primeLists(ctx context.Context, lists rubrica.ContactLists, contacts ...*rubrica.Contact) *readyFields {
	ready := &readyFields{}
	for field, read := range map[string]bool{"tags": lists.Tags != nil, "customFields": lists.CustomValues != nil,
		"channels": lists.Links != nil, "assignee": lists.Members != nil} {
		if read {
			ready.add("Contact", field)
		}
	}
	if lists.Tags != nil && lists.TagCounts != nil { // the counts of every tag read
		ready.add("Tag", "contactCount")
	}
	l := r.loaders(ctx)
	for _, c := range contacts {
		prime(ctx, l.Contacts, c.ID, c)
		if lists.Tags != nil {
			prime(ctx, l.ContactTags, c.ID, lists.Tags[c.ID])
		}
		if lists.CustomValues != nil {
			prime(ctx, l.CustomValues, c.ID, lists.CustomValues[c.ID])
		}
		if lists.Links != nil {
			prime(ctx, l.ContactLinks, c.ID, lists.Links[c.ID])
		}
		if lists.Members != nil && c.AssigneeID != nil {
			prime(ctx, l.Members, *c.AssigneeID, lists.Members[*c.AssigneeID])
		}
	}
	for id, n := range lists.TagCounts {
		prime(ctx, l.TagCounts, id, n)
	}
	if lists.Links != nil {
		prime(ctx, l.Channels, workspaceChannels, lists.Channels)
	}
	return ready
}

// primeMembers primes the request's loaders with members a mutation read in its transaction.
func (r *Resolver) primeMembers(ctx context.Context, members map[string]*rubrica.Member) {
	l := r.loaders(ctx)
	for id, m := range members {
		prime(ctx, l.Members, id, m)
	}
}

// primeDefinitions primes the request's loaders with the workspace's custom fields as a
// mutation read them in its transaction.
func (r *Resolver) primeDefinitions(ctx context.Context, defs []*rubrica.CustomFieldDefinition) {
	prime(ctx, r.loaders(ctx).Definitions, workspaceDefinitions, defs)
}

// prime replaces what the loader holds for key: a value an earlier mutation of the same
// request read (mutations run one after the other, each payload resolved before the next)
// is older than the one this mutation committed.
func prime[K comparable, V any](ctx context.Context, l *dataloader.Loader[K, V], key K, value V) {
	l.Clear(ctx, key)
	l.Prime(ctx, key, value)
}

// workspaceDefinitionList returns the workspace's custom fields, once per request.
func (r *Resolver) workspaceDefinitionList(ctx context.Context) ([]*rubrica.CustomFieldDefinition, error) {
	return r.loaders(ctx).Definitions.Load(ctx, workspaceDefinitions)()
}

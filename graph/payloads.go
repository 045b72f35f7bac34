package graph

import (
	"context"

	"rubrica"
)

// primeLists primes the request's loaders with what a mutation read in its transaction: the
// contacts and the lists read with them. Its payload then resolves them from the loaders'
// caches, as they were committed, without a statement after the commit.
func (r *Resolver) primeLists(ctx context.Context, lists rubrica.ContactLists, contacts ...*rubrica.Contact) {
	l := r.loaders(ctx)
	for _, c := range contacts {
		l.Contacts.Prime(ctx, c.ID, c)
		if lists.Tags != nil {
			l.ContactTags.Prime(ctx, c.ID, lists.Tags[c.ID])
		}
		if lists.CustomValues != nil {
			l.CustomValues.Prime(ctx, c.ID, lists.CustomValues[c.ID])
		}
		if lists.Links != nil {
			l.ContactLinks.Prime(ctx, c.ID, lists.Links[c.ID])
		}
	}
	for id, n := range lists.TagCounts {
		l.TagCounts.Prime(ctx, id, n)
	}
	if lists.Links != nil {
		l.Channels.Prime(ctx, workspaceChannels, lists.Channels)
	}
}

// primeMembers primes the request's loaders with members a mutation read in its transaction.
func (r *Resolver) primeMembers(ctx context.Context, members map[string]*rubrica.Member) {
	l := r.loaders(ctx)
	for id, m := range members {
		l.Members.Prime(ctx, id, m)
	}
}

// primeDefinitions primes the request's loaders with the workspace's custom fields as a
// mutation read them in its transaction.
func (r *Resolver) primeDefinitions(ctx context.Context, defs []*rubrica.CustomFieldDefinition) {
	r.loaders(ctx).Definitions.Prime(ctx, workspaceDefinitions, defs)
}

// workspaceDefinitionList returns the workspace's custom fields, once per request.
func (r *Resolver) workspaceDefinitionList(ctx context.Context) ([]*rubrica.CustomFieldDefinition, error) {
	return r.loaders(ctx).Definitions.Load(ctx, workspaceDefinitions)()
}

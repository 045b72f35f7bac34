package db

import (
	"context"

	"github.com/jmoiron/sqlx"

	"rubrica"
)

// listSet names the lists of contacts readContactLists reads.
type listSet struct {
	tags, customValues, links bool
}

// readContactLists reads, in the mutation's transaction, the lists of the contacts its
// payload shows, so that the payload needs no statement after the commit: with tags, the
// contact counts of those tags and of extraTags; with links, the workspace's channels.
func readContactLists(ctx context.Context, tx sqlx.QueryerContext, workspaceID string, ids []string, set listSet, extraTags ...string) (rubrica.ContactLists, error) {
	var out rubrica.ContactLists
	var err error
	if set.tags {
		if out.Tags, err = findContactTags(ctx, tx, workspaceID, ids); err != nil {
			return out, err
		}
		out.TagCounts = map[string]int{}
		if tagIDs := tagIDsOf(out.Tags, extraTags); len(tagIDs) > 0 {
			if out.TagCounts, err = countTagContacts(ctx, tx, workspaceID, tagIDs); err != nil {
				return out, err
			}
		}
	}
	if set.customValues {
		if out.CustomValues, err = findCustomValues(ctx, tx, workspaceID, ids); err != nil {
			return out, err
		}
	}
	if set.links {
		links, err := findLinks(ctx, tx, workspaceID, ids)
		if err != nil {
			return out, err
		}
		out.Links = make(map[string][]*rubrica.ChannelLink, len(ids))
		for _, l := range links {
			out.Links[l.ContactID] = append(out.Links[l.ContactID], l)
		}
		if out.Channels, err = findChannels(ctx, tx, workspaceID); err != nil {
			return out, err
		}
	}
	return out, nil
}

// tagIDsOf returns the ids of the tags, and extra, once each.
func tagIDsOf(tags map[string][]*rubrica.Tag, extra []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for _, id := range extra {
		add(id)
	}
	for _, list := range tags {
		for _, t := range list {
			add(t.ID)
		}
	}
	return out
}

// contactsInOrder returns the contacts of ids that exist, in the order of ids.
func contactsInOrder(found map[string]*rubrica.Contact, ids []string) []*rubrica.Contact {
	out := make([]*rubrica.Contact, 0, len(ids))
	for _, id := range ids {
		if c, ok := found[id]; ok {
			out = append(out, c)
			delete(found, id)
		}
	}
	return out
}

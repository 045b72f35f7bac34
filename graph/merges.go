package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"rubrica"
	"rubrica/graph/globalid"
	"rubrica/graph/model"
)

// The type names of the merge objects.
const (
	typeMerge      = "Merge"
	typeSuggestion = "MergeSuggestion"
)

// mergeArgs reads the contact ids and field choices of a merge or its preview: a primary and
// either one secondary or a list of them. It returns the secondaries and whether they came as
// the list.
func mergeArgs(primary string, secondary *string, secondaries []string, choices []*model.MergeFieldChoice) (string, []string, bool, []rubrica.FieldChoice, error) {
	p, err := localID(primary, typeContact, "primaryContactId")
	if err != nil {
		return "", nil, false, nil, err
	}
	var secs []string
	switch {
	case secondary != nil && secondaries != nil:
		return "", nil, false, nil, rubrica.InvalidField("secondaryContactIds", "give secondaryContactId or secondaryContactIds, not both.")
	case secondary != nil:
		s, err := localID(*secondary, typeContact, "secondaryContactId")
		if err != nil {
			return "", nil, false, nil, err
		}
		secs = []string{s}
	case secondaries == nil:
		return "", nil, false, nil, rubrica.InvalidField("secondaryContactIds", "give secondaryContactId or secondaryContactIds.")
	default:
		if len(secondaries) > rubrica.MaxMergeSecondaries {
			return "", nil, false, nil, rubrica.InvalidField("secondaryContactIds", "merge 1 to %d contacts into the primary, not %d.", rubrica.MaxMergeSecondaries, len(secondaries))
		}
		for _, gid := range secondaries {
			s, err := localID(gid, typeContact, "secondaryContactIds")
			if err != nil {
				return "", nil, false, nil, err
			}
			secs = append(secs, s)
		}
	}
	out := make([]rubrica.FieldChoice, len(choices))
	for i, c := range choices {
		out[i] = rubrica.FieldChoice{Field: c.Field}
		if use := c.Use.Value(); use != nil {
			out[i].Side = *use
		}
		if gid := c.ContactID.Value(); gid != nil {
			id, err := localID(*gid, typeContact, "fieldChoices")
			if err != nil {
				return "", nil, false, nil, err
			}
			out[i].ContactID = id
		}
	}
	return p, secs, secondary == nil, out, nil
}

// suggestionContacts returns the contacts of a suggestion that still exist, in its order.
func (r *Resolver) suggestionContacts(ctx context.Context, s *rubrica.MergeSuggestion) ([]*rubrica.Contact, error) {
	thunks := make([]func() (*rubrica.Contact, error), len(s.ContactIDs))
	for i, id := range s.ContactIDs {
		thunks[i] = r.loaders(ctx).Contacts.Load(ctx, id)
	}
	out := make([]*rubrica.Contact, 0, len(thunks))
	for _, t := range thunks {
		c, err := t()
		if err != nil {
			return nil, err
		}
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// notePreview records a preview's contact for this request, so that its tags, custom values
// and channels resolve as the merge would make them (see previewOf). The loaders' caches are
// left alone: they are keyed by contact id and also serve the real primary wherever else the
// same request reads it.
func (r *Resolver) notePreview(ctx context.Context, p *rubrica.MergePreview) {
	l := r.loaders(ctx)
	l.previewsMu.Lock()
	defer l.previewsMu.Unlock()
	if l.previews == nil {
		l.previews = map[*rubrica.Contact]*rubrica.MergePreview{}
	}
	l.previews[p.Contact] = p
}

// previewOf returns the preview a contact was made by, or nil for a real contact.
func (r *Resolver) previewOf(ctx context.Context, c *rubrica.Contact) *rubrica.MergePreview {
	l := r.loaders(ctx)
	l.previewsMu.Lock()
	defer l.previewsMu.Unlock()
	return l.previews[c]
}

// suggestionConnection maps a page of suggestions.
func suggestionConnection(c *rubrica.Connection[*rubrica.MergeSuggestion], status rubrica.MergeSuggestionStatus) *model.MergeSuggestionConnection {
	out := &model.MergeSuggestionConnection{PageInfo: &c.PageInfo, Status: status, Edges: make([]*model.MergeSuggestionEdge, len(c.Edges))}
	for i, e := range c.Edges {
		out.Edges[i] = &model.MergeSuggestionEdge{Cursor: e.Cursor, Node: e.Node}
	}
	return out
}

// mergeConnection maps a page of merges.
func mergeConnection(c *rubrica.Connection[*rubrica.Merge]) *model.MergeConnection {
	out := &model.MergeConnection{PageInfo: &c.PageInfo, Edges: make([]*model.MergeEdge, len(c.Edges))}
	for i, e := range c.Edges {
		out.Edges[i] = &model.MergeEdge{Cursor: e.Cursor, Node: e.Node}
	}
	return out
}

// mergedContactJSON shows the contact a merge took away as the API shows contacts: global
// ids, custom values by key, channel identities by channel.
func mergedContactJSON(m *rubrica.MergedContact) (string, error) {
	if m == nil {
		return "null", nil
	}
	c := &m.Contact
	var assignee *string
	if c.AssigneeID != nil {
		id := globalid.Encode(typeMember, *c.AssigneeID)
		assignee = &id
	}
	var blockedAt *string
	if c.BlockedAt != nil {
		t := c.BlockedAt.Format(time.RFC3339Nano)
		blockedAt = &t
	}
	type identity struct {
		ChannelID  string `json:"channelId"`
		Identifier string `json:"identifier"`
	}
	out := struct {
		ID                string            `json:"id"`
		DisplayName       string            `json:"displayName"`
		FirstName         *string           `json:"firstName"`
		LastName          *string           `json:"lastName"`
		Email             *string           `json:"email"`
		Phone             *string           `json:"phone"`
		Country           *string           `json:"country"`
		Language          *string           `json:"language"`
		ProfilePictureURL *string           `json:"profilePictureUrl"`
		AssigneeID        *string           `json:"assigneeId"`
		BlockedAt         *string           `json:"blockedAt"`
		CreatedAt         string            `json:"createdAt"`
		UpdatedAt         string            `json:"updatedAt"`
		CustomFields      map[string]string `json:"customFields"`
		TagIDs            []string          `json:"tagIds"`
		Channels          []identity        `json:"channels"`
		ConversationIDs   []string          `json:"conversationIds"`
	}{
		ID: globalid.Encode(typeContact, c.ID), DisplayName: c.DisplayName(), FirstName: c.FirstName, LastName: c.LastName,
		Email: c.Email, Phone: c.Phone, Country: c.Country, Language: c.Language, ProfilePictureURL: c.ProfilePictureURL,
		AssigneeID: assignee, BlockedAt: blockedAt,
		CreatedAt: c.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: c.UpdatedAt.Format(time.RFC3339Nano),
		CustomFields: m.CustomValues, TagIDs: []string{}, Channels: []identity{}, ConversationIDs: []string{},
	}
	for _, id := range m.TagIDs {
		out.TagIDs = append(out.TagIDs, globalid.Encode(typeTag, id))
	}
	for _, l := range m.Identities {
		out.Channels = append(out.Channels, identity{ChannelID: globalid.Encode(typeChannel, l.ChannelID), Identifier: l.Identifier})
	}
	for _, id := range m.ConversationIDs {
		out.ConversationIDs = append(out.ConversationIDs, globalid.Encode(typeConversation, id))
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("graph: merged contact snapshot: %w", err)
	}
	return string(b), nil
}

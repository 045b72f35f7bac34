package graph

import (
	"errors"

	"github.com/99designs/gqlgen/graphql"

	"rubrica"
	"rubrica/graph/model"
)

// opt turns an omittable input field into a domain change.
func opt(o graphql.Omittable[*string]) rubrica.Opt[string] {
	return rubrica.Opt[string]{Set: o.IsSet(), Value: o.Value()}
}

// customValues turns custom field inputs into domain inputs.
func customValues(in graphql.Omittable[[]*model.CustomFieldValueInput]) []rubrica.CustomValueInput {
	out := make([]rubrica.CustomValueInput, 0, len(in.Value()))
	for _, v := range in.Value() {
		out = append(out, rubrica.CustomValueInput{Key: v.Key, Value: v.Value.Value()})
	}
	return out
}

// optList turns an omittable list input into a domain change; null is the empty list.
func optList(o graphql.Omittable[[]string]) rubrica.Opt[[]string] {
	if !o.IsSet() {
		return rubrica.Opt[[]string]{}
	}
	v := o.Value()
	return rubrica.Opt[[]string]{Set: true, Value: &v}
}

// contactChanges turns the fields shared by createContact and updateContact into a domain input.
func contactChanges(first, last, email, phone, country, language, picture, assignee graphql.Omittable[*string],
	custom graphql.Omittable[[]*model.CustomFieldValueInput]) (rubrica.ContactChanges, error) {
	ch := rubrica.ContactChanges{
		FirstName: opt(first), LastName: opt(last), Email: opt(email), Phone: opt(phone),
		Country: opt(country), Language: opt(language), ProfilePictureURL: opt(picture),
		CustomFields: customValues(custom),
	}
	if assignee.IsSet() {
		id, err := optionalLocalID(assignee.Value(), typeMember, "assigneeId")
		if err != nil {
			return ch, err
		}
		ch.AssigneeID = rubrica.Opt[string]{Set: true, Value: id}
	}
	return ch, nil
}

// contactFilter turns the GraphQL filter into a domain filter.
func contactFilter(f *model.ContactFilter) (rubrica.ContactFilter, error) {
	var out rubrica.ContactFilter
	if f == nil {
		return out, nil
	}
	if s := f.Search.Value(); s != nil {
		out.Search = *s
	}
	if ids := f.TagIds.Value(); len(ids) > 0 {
		local, err := localIDs(ids, typeTag, "filter.tagIds")
		if err != nil {
			return out, err
		}
		out.TagIDs = local
	}
	if ids := f.ChannelIds.Value(); len(ids) > 0 {
		local, err := localIDs(ids, typeChannel, "filter.channelIds")
		if err != nil {
			return out, err
		}
		out.ChannelIDs = local
	}
	out.TagMatch = rubrica.TagMatchAny
	if m := f.TagMatch.Value(); m != nil {
		out.TagMatch = *m
	}
	out.Blocked = f.Blocked.Value()
	id, err := optionalLocalID(f.AssigneeID.Value(), typeMember, "filter.assigneeId")
	if err != nil {
		return out, err
	}
	out.AssigneeID = id
	out.Country = f.Country.Value()
	return out, nil
}

// contactOrder turns the GraphQL order into a domain order.
func contactOrder(o *model.ContactOrder) rubrica.ContactOrder {
	if o == nil {
		return rubrica.ContactOrder{Field: rubrica.ContactOrderCreatedAt, Descending: true}
	}
	return rubrica.ContactOrder{Field: o.Field, Descending: o.Direction == model.OrderDirectionDesc}
}

// contactConnection maps a page of contacts.
func contactConnection(c *rubrica.Connection[*rubrica.Contact], f rubrica.ContactFilter) *model.ContactConnection {
	out := &model.ContactConnection{PageInfo: &c.PageInfo, Filter: f, Edges: make([]*model.ContactEdge, len(c.Edges))}
	for i, e := range c.Edges {
		out.Edges[i] = &model.ContactEdge{Cursor: e.Cursor, Node: e.Node}
	}
	return out
}

// tagConnection maps a page of tags.
func tagConnection(c *rubrica.Connection[*rubrica.Tag], search string) *model.TagConnection {
	out := &model.TagConnection{PageInfo: &c.PageInfo, Search: search, Edges: make([]*model.TagEdge, len(c.Edges))}
	for i, e := range c.Edges {
		out.Edges[i] = &model.TagEdge{Cursor: e.Cursor, Node: e.Node}
	}
	return out
}

// inboundMessage turns receiveMessage's input into the domain's.
func inboundMessage(in model.ReceiveMessageInput) (rubrica.InboundMessage, error) {
	channelID, err := localID(in.ChannelID, typeChannel, "channelId")
	if err != nil {
		return rubrica.InboundMessage{}, err
	}
	out := rubrica.InboundMessage{ChannelID: channelID, Identifier: in.Identifier, Text: in.Text,
		SentAt: in.SentAt.Value(), ExternalID: in.ExternalID.Value()}
	if p := in.Profile.Value(); p != nil {
		out.Profile = rubrica.Profile{FirstName: p.FirstName.Value(), LastName: p.LastName.Value(),
			DisplayName: p.DisplayName.Value(), PictureURL: p.PictureURL.Value(), Language: p.Language.Value(),
			AcceptLanguage: p.AcceptLanguage.Value()}
	}
	return out, nil
}

// conversationConnection maps a page of conversations.
func conversationConnection(c *rubrica.Connection[*rubrica.Conversation], parentID string) *model.ConversationConnection {
	out := &model.ConversationConnection{PageInfo: &c.PageInfo, ParentID: parentID, Edges: make([]*model.ConversationEdge, len(c.Edges))}
	for i, e := range c.Edges {
		out.Edges[i] = &model.ConversationEdge{Cursor: e.Cursor, Node: e.Node}
	}
	return out
}

// messageConnection maps a page of messages.
func messageConnection(c *rubrica.Connection[*rubrica.Message], parentID string) *model.MessageConnection {
	out := &model.MessageConnection{PageInfo: &c.PageInfo, ParentID: parentID, Edges: make([]*model.MessageEdge, len(c.Edges))}
	for i, e := range c.Edges {
		out.Edges[i] = &model.MessageEdge{Cursor: e.Cursor, Node: e.Node}
	}
	return out
}

// withInputField names the input field of a NOT_FOUND error about the mutation's own object.
func withInputField(err error, field string) error {
	var e *rubrica.Error
	if errors.As(err, &e) && e.Code == rubrica.ENOTFOUND && e.Field == "id" {
		return &rubrica.Error{Code: e.Code, Message: e.Message, Field: field}
	}
	return err
}

package graph

import (
	"context"

	"rubrica"
)

// contactChannels returns every channel of the workspace as the contact stands there, from
// two batched loads whatever the number of contacts.
func (r *Resolver) contactChannels(ctx context.Context, c *rubrica.Contact) ([]*rubrica.ContactChannel, error) {
	l := r.loaders(ctx)
	channels, err := l.Channels.Load(ctx, workspaceChannels)()
	if err != nil {
		return nil, err
	}
	var links []*rubrica.ChannelLink
	if p := r.previewOf(ctx, c); p != nil {
		links = p.Links
	} else if links, err = l.ContactLinks.Load(ctx, c.ID)(); err != nil {
		return nil, err
	}
	out := make([]*rubrica.ContactChannel, len(channels))
	for i, ch := range channels {
		out[i] = rubrica.ContactChannelOf(c, ch, linksOn(links, ch.ID))
	}
	return out, nil
}

// contactChannel returns one channel as the contact stands there.
func (r *Resolver) contactChannel(ctx context.Context, c *rubrica.Contact, ch *rubrica.Channel) (*rubrica.ContactChannel, error) {
	links, err := r.loaders(ctx).ContactLinks.Load(ctx, c.ID)()
	if err != nil {
		return nil, err
	}
	return rubrica.ContactChannelOf(c, ch, linksOn(links, ch.ID)), nil
}

func linksOn(links []*rubrica.ChannelLink, channelID string) []*rubrica.ChannelLink {
	var out []*rubrica.ChannelLink
	for _, l := range links {
		if l.ChannelID == channelID {
			out = append(out, l)
		}
	}
	return out
}

// nonNil returns an empty list for a nil one (the schema's lists are non-null).
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// channelByID returns a channel of the workspace from the batched channel list.
func (r *Resolver) channelByID(ctx context.Context, id *string) (*rubrica.Channel, error) {
	if id == nil {
		return nil, nil
	}
	channels, err := r.loaders(ctx).Channels.Load(ctx, workspaceChannels)()
	if err != nil {
		return nil, err
	}
	for _, ch := range channels {
		if ch.ID == *id {
			return ch, nil
		}
	}
	return nil, nil
}

// pageKey validates a nested connection's arguments.
func pageKey(parentID string, first *int, after *string) (rubrica.ConversationPageKey, error) {
	n, _, err := rubrica.Page{First: first}.Size()
	k := rubrica.ConversationPageKey{ParentID: parentID, First: n}
	if after != nil {
		if *after == "" { // the key's "" means no cursor
			return k, rubrica.InvalidField("after", "after is not a cursor of this list.")
		}
		k.After = *after
	}
	return k, err
}

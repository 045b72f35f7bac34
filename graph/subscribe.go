package graph

import (
	"context"
	"errors"

	"rubrica"
)

// subscribe starts a subscription to one kind of event, of one contact when contactID is
// given (a contact of another workspace is NOT_FOUND).
func (r *Resolver) subscribe(ctx context.Context, kind rubrica.EventKind, contactID *string) (*rubrica.Subscription, error) {
	if r.Services.Events == nil {
		return nil, errors.New("graph: no event service")
	}
	f := rubrica.EventFilter{Kind: kind}
	if contactID != nil {
		id, err := localID(*contactID, typeContact, "contactId")
		if err != nil {
			return nil, err
		}
		if _, err := r.Services.Contacts.FindContactByID(ctx, id); err != nil {
			return nil, withInputField(err, "contactId")
		}
		f.ContactID = &id
	}
	return r.Services.Events.Subscribe(ctx, f)
}

// forward turns a subscription's events into GraphQL payloads until ctx ends. When the bus
// drops a subscriber that fell behind, one last payload carries the error (its fields resolve
// to it), then the stream completes. Sending may block on a slow client: the bus buffer
// absorbs that, never the publisher.
func forward[T any](ctx context.Context, sub *rubrica.Subscription, payload func(rubrica.Event, error) T) <-chan T {
	out := make(chan T)
	go func() {
		defer close(out)
		for e := range sub.C {
			select {
			case out <- payload(*e, nil):
			case <-ctx.Done():
				return
			}
		}
		if err := sub.Err(); errors.Is(err, rubrica.ErrSubscriberTooSlow) {
			select {
			case out <- payload(rubrica.Event{}, err):
			case <-ctx.Done():
			}
		}
	}()
	return out
}

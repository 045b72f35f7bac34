package graph

import (
	"context"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"rubrica"
)

// DefaultLoaderWait is how long a loader collects keys before it runs its batch. gqlgen
// resolves the items of a list in parallel goroutines that all reach their loader within well
// under a millisecond, so a short wait batches a whole page; each nested level of a query pays
// it once (see BenchmarkLoaderWait). A batch that fills MaxPageSize keys runs at once.
const DefaultLoaderWait = 2 * time.Millisecond

// Loaders batch the list fields of one request: one SQL statement per field and level,
// whatever the page size. Build them anew for each request (or each subscription event):
// their cache must never outlive the data it reflects.
type Loaders struct {
	Members      *dataloader.Loader[string, *rubrica.Member]
	ContactTags  *dataloader.Loader[string, []*rubrica.Tag]
	CustomValues *dataloader.Loader[string, []*rubrica.CustomFieldValue]
	TagCounts    *dataloader.Loader[string, int]

	Contacts           *dataloader.Loader[string, *rubrica.Contact]
	Channels           *dataloader.Loader[string, []*rubrica.Channel] // one key: the workspace's list
	ContactLinks       *dataloader.Loader[string, []*rubrica.ChannelLink]
	ConversationStatus *dataloader.Loader[string, rubrica.ConversationStatus]
	ConversationPages  *dataloader.Loader[rubrica.ConversationPageKey, *rubrica.Connection[*rubrica.Conversation]]
	MessagePages       *dataloader.Loader[rubrica.ConversationPageKey, *rubrica.Connection[*rubrica.Message]]
	ConversationCounts *dataloader.Loader[string, int]
	MessageCounts      *dataloader.Loader[string, int]
}

// NewLoaders returns fresh loaders over the services.
func NewLoaders(s rubrica.Services, wait time.Duration) *Loaders {
	return &Loaders{
		Members:      newLoader(wait, s.Workspaces.FindMembersByIDs),
		ContactTags:  newLoader(wait, s.Tags.FindTagsByContactIDs),
		CustomValues: newLoader(wait, s.Contacts.FindCustomValuesByContactIDs),
		TagCounts:    newLoader(wait, s.Tags.CountContactsByTagIDs),

		Contacts: newLoader(wait, s.Contacts.FindContactsByIDs),
		Channels: newLoader(wait, func(ctx context.Context, _ []string) (map[string][]*rubrica.Channel, error) {
			list, err := s.Channels.FindChannels(ctx)
			return map[string][]*rubrica.Channel{workspaceChannels: list}, err
		}),
		ContactLinks:       newLoader(wait, s.Channels.FindLinksByContactIDs),
		ConversationStatus: newLoader(wait, s.Conversations.FindLatestConversationStatus),
		ConversationPages:  newLoader(wait, s.Conversations.FindConversationPages),
		MessagePages:       newLoader(wait, s.Conversations.FindMessagePages),
		ConversationCounts: newLoader(wait, s.Conversations.CountConversations),
		MessageCounts:      newLoader(wait, s.Conversations.CountMessages),
	}
}

// newLoader makes a loader from a service method that returns a map: results are returned in
// key order, the zero value for a key the map lacks, one error for every key if the call fails.
func newLoader[K comparable, V any](wait time.Duration, fetch func(context.Context, []K) (map[K]V, error)) *dataloader.Loader[K, V] {
	batch := func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		found, err := fetch(ctx, keys)
		out := make([]*dataloader.Result[V], len(keys))
		for i, k := range keys {
			if err != nil {
				out[i] = &dataloader.Result[V]{Error: err}
			} else {
				out[i] = &dataloader.Result[V]{Data: found[k]}
			}
		}
		return out
	}
	return dataloader.NewBatchedLoader(batch,
		dataloader.WithWait[K, V](wait),
		dataloader.WithBatchCapacity[K, V](rubrica.MaxPageSize))
}

// workspaceChannels is the one key of the Channels loader.
const workspaceChannels = "workspace"

type loadersKey struct{}

// WithLoaders returns a context that carries the loaders.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// loadersFrom returns the request's loaders; a context without them gets unbatched fresh ones
// (never shared), which is correct if slower.
func (r *Resolver) loaders(ctx context.Context) *Loaders {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l
	}
	return NewLoaders(r.Services, 0)
}

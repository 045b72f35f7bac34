package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"

	"rubrica"
)

// DefaultLoaderWait is how long a loader collects keys before it runs its batch; each nested
// level of a query pays it once. gqlgen resolves the items of a list in parallel goroutines,
// but on a busy machine they can reach their loader several milliseconds apart, so a timed
// batch alone does not make a page's statements a fixed number: a page of contacts is
// prefetched instead (see prefetchContacts), and the wait serves the other lists. A loader
// keyed by the contacts of a page runs its batch at once when it fills MaxPageSize keys.
// BenchmarkContactsPage measures it.
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

	ContactSuggestions *dataloader.Loader[string, []*rubrica.MergeSuggestion]
	DuplicateValues    *dataloader.Loader[string, []rubrica.DuplicateMatch]

	// previews are the contacts mergePreview made in this request, by identity: they share
	// their id with the real primary, so their tags, custom values and channels must not go
	// through the caches above.
	previewsMu sync.Mutex
	previews   map[*rubrica.Contact]*rubrica.MergePreview

	WorkflowRuns *dataloader.Loader[string, []*rubrica.WorkflowRun]

	Definitions *dataloader.Loader[string, []*rubrica.CustomFieldDefinition] // one key: the workspace's list
}

// NewLoaders returns fresh loaders over the services.
func NewLoaders(s rubrica.Services, wait time.Duration) *Loaders {
	return &Loaders{
		Members:      newLoader(wait, rubrica.MaxPageSize, s.Workspaces.FindMembersByIDs),
		ContactTags:  newLoader(wait, rubrica.MaxPageSize, s.Tags.FindTagsByContactIDs),
		CustomValues: newLoader(wait, rubrica.MaxPageSize, s.Contacts.FindCustomValuesByContactIDs),
		// The tags of a page's contacts are not bounded by the page size: a cap would split
		// a page with more than MaxPageSize distinct tags into several statements.
		TagCounts: newLoader(wait, 0, s.Tags.CountContactsByTagIDs),

		Contacts: newLoader(wait, rubrica.MaxPageSize, s.Contacts.FindContactsByIDs),
		Channels: newLoader(wait, 0, func(ctx context.Context, _ []string) (map[string][]*rubrica.Channel, error) {
			list, err := s.Channels.FindChannels(ctx)
			return map[string][]*rubrica.Channel{workspaceChannels: list}, err
		}),
		ContactLinks:       newLoader(wait, rubrica.MaxPageSize, s.Channels.FindLinksByContactIDs),
		ConversationStatus: newLoader(wait, rubrica.MaxPageSize, s.Conversations.FindLatestConversationStatus),
		ConversationPages:  newLoader(wait, rubrica.MaxPageSize, s.Conversations.FindConversationPages),
		ConversationCounts: newLoader(wait, rubrica.MaxPageSize, s.Conversations.CountConversations),
		// Keyed by conversation: a page of contacts holds up to MaxPageSize conversations
		// each, so a cap would split one level into several statements (as for TagCounts).
		MessagePages:  newLoader(wait, 0, s.Conversations.FindMessagePages),
		MessageCounts: newLoader(wait, 0, s.Conversations.CountMessages),

		WorkflowRuns: newLoader(wait, rubrica.MaxPageSize, s.Workflows.FindWorkflowRunsByContactIDs),

		ContactSuggestions: newLoader(wait, rubrica.MaxPageSize, s.Merges.FindSuggestionsByContactIDs),
		DuplicateValues:    newLoader(wait, rubrica.MaxPageSize, s.Merges.FindDuplicateValues),

		// One key only: the batch runs at once.
		Definitions: newLoader(wait, 1, func(ctx context.Context, _ []string) (map[string][]*rubrica.CustomFieldDefinition, error) {
			list, err := s.Workspaces.FindCustomFieldDefinitions(ctx)
			return map[string][]*rubrica.CustomFieldDefinition{workspaceDefinitions: list}, err
		}),
	}
}

// newLoader makes a loader from a service method that returns a map: results are returned in
// key order, the zero value for a key the map lacks, one error for every key if the call fails.
// A batch runs after wait, or as soon as it holds capacity keys (0: no limit).
func newLoader[K comparable, V any](wait time.Duration, capacity int, fetch func(context.Context, []K) (map[K]V, error)) *dataloader.Loader[K, V] {
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
		dataloader.WithBatchCapacity[K, V](capacity))
}

// workspaceChannels and workspaceDefinitions are the one key of the Channels and the
// Definitions loader.
const (
	workspaceChannels    = "workspace"
	workspaceDefinitions = "workspace"
)

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

// prefetchContacts fetches, for a page of contacts, the batched fields the query selects on
// its nodes (tags and their contact counts, custom values, assignees), one statement each,
// and primes the request's loaders with the results. The field resolvers then find every key
// in the loaders' caches, so the page runs the same statements whatever its size and however
// the goroutines of its items are scheduled, and pays no batch wait. A fetch that fails primes
// nothing: the resolvers then load (and report) those fields themselves.
func (r *Resolver) prefetchContacts(ctx context.Context, page *rubrica.Connection[*rubrica.Contact]) {
	sel := selectedContactFields(ctx)
	if len(page.Edges) == 0 || !sel.any() {
		return
	}
	l := r.loaders(ctx)
	ids := make([]string, len(page.Edges))
	var assignees []string
	for i, e := range page.Edges {
		ids[i] = e.Node.ID
		if e.Node.AssigneeID != nil {
			assignees = append(assignees, *e.Node.AssigneeID)
		}
	}
	var wg sync.WaitGroup
	if sel.tags {
		wg.Go(func() {
			tags, err := r.Services.Tags.FindTagsByContactIDs(ctx, ids)
			if err != nil {
				return
			}
			var tagIDs []string
			seen := map[string]bool{}
			for _, id := range ids {
				l.ContactTags.Prime(ctx, id, tags[id])
				for _, t := range tags[id] {
					if !seen[t.ID] {
						seen[t.ID] = true
						tagIDs = append(tagIDs, t.ID)
					}
				}
			}
			if !sel.tagCounts || len(tagIDs) == 0 {
				return
			}
			if counts, err := r.Services.Tags.CountContactsByTagIDs(ctx, tagIDs); err == nil {
				for _, id := range tagIDs {
					l.TagCounts.Prime(ctx, id, counts[id])
				}
			}
		})
	}
	if sel.customFields {
		wg.Go(func() {
			if values, err := r.Services.Contacts.FindCustomValuesByContactIDs(ctx, ids); err == nil {
				for _, id := range ids {
					l.CustomValues.Prime(ctx, id, values[id])
				}
			}
		})
	}
	if sel.assignee && len(assignees) > 0 {
		wg.Go(func() {
			if members, err := r.Services.Workspaces.FindMembersByIDs(ctx, assignees); err == nil {
				for _, id := range assignees {
					l.Members.Prime(ctx, id, members[id])
				}
			}
		})
	}
	if sel.channels {
		wg.Go(func() {
			if channels, err := r.Services.Channels.FindChannels(ctx); err == nil {
				l.Channels.Prime(ctx, workspaceChannels, channels)
			}
		})
		wg.Go(func() {
			if links, err := r.Services.Channels.FindLinksByContactIDs(ctx, ids); err == nil {
				for _, id := range ids {
					l.ContactLinks.Prime(ctx, id, links[id])
				}
			}
		})
	}
	if sel.workflowRuns {
		wg.Go(func() {
			if runs, err := r.Services.Workflows.FindWorkflowRunsByContactIDs(ctx, ids); err == nil {
				for _, id := range ids {
					l.WorkflowRuns.Prime(ctx, id, runs[id])
				}
			}
		})
	}
	if sel.mergeSuggestions {
		wg.Go(func() {
			if sugs, err := r.Services.Merges.FindSuggestionsByContactIDs(ctx, ids); err == nil {
				for _, id := range ids {
					l.ContactSuggestions.Prime(ctx, id, sugs[id])
				}
			}
		})
	}
	if sel.duplicateValues {
		wg.Go(func() {
			if values, err := r.Services.Merges.FindDuplicateValues(ctx, ids); err == nil {
				for _, id := range ids {
					l.DuplicateValues.Prime(ctx, id, values[id])
				}
			}
		})
	}
	if sel.conversationStatus {
		wg.Go(func() {
			if st, err := r.Services.Conversations.FindLatestConversationStatus(ctx, ids); err == nil {
				for _, id := range ids {
					l.ConversationStatus.Prime(ctx, id, st[id])
				}
			}
		})
	}
	wg.Wait()
}

// contactSelection says which batched fields a query selects on the nodes of a contact page.
type contactSelection struct {
	tags, tagCounts, customFields, assignee, channels, conversationStatus bool
	workflowRuns, mergeSuggestions, duplicateValues                       bool
}

func (s contactSelection) any() bool {
	return s.tags || s.customFields || s.assignee || s.channels || s.conversationStatus ||
		s.workflowRuns || s.mergeSuggestions || s.duplicateValues
}

// selectedContactFields reads the selection of the current connection field (fragments and
// @skip/@include applied) down to edges.node.
func selectedContactFields(ctx context.Context) contactSelection {
	var s contactSelection
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return s
	}
	op := graphql.GetOperationContext(ctx)
	for _, edges := range graphql.CollectFields(op, fc.Field.Selections, []string{"ContactConnection"}) {
		if edges.Name != "edges" {
			continue
		}
		for _, node := range graphql.CollectFields(op, edges.Selections, []string{"ContactEdge"}) {
			if node.Name != "node" {
				continue
			}
			for _, f := range graphql.CollectFields(op, node.Selections, []string{"Contact", "Node"}) {
				switch f.Name {
				case "tags":
					s.tags = true
					for _, tf := range graphql.CollectFields(op, f.Selections, []string{"Tag", "Node"}) {
						s.tagCounts = s.tagCounts || tf.Name == "contactCount"
					}
				case "customFields":
					s.customFields = true
				case "assignee":
					s.assignee = true
				case "channels":
					s.channels = true
				case "conversationStatus":
					s.conversationStatus = true
				case "workflowRuns":
					s.workflowRuns = true
				case "mergeSuggestions":
					s.mergeSuggestions = true
				case "duplicateValues":
					s.duplicateValues = true
				}
			}
		}
	}
	return s
}

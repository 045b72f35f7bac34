package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"

	"rubrica"
	"rubrica/graph/model"
)

// The type names of the blocking and job objects.
const (
	typeJob         = "Job"
	typeWorkflowRun = "WorkflowRun"
)

// selectionInput reads a bulk action's selection: contact ids or a filter (the service
// checks that exactly one is given). idsField names the ids for errors.
func selectionInput(ids graphql.Omittable[[]string], filter graphql.Omittable[*model.ContactFilter], idsField string) (rubrica.ContactSelection, error) {
	var sel rubrica.ContactSelection
	if ids.Value() != nil {
		local, err := localIDs(ids.Value(), typeContact, idsField)
		if err != nil {
			return sel, err
		}
		sel.IDs = local
	}
	if f := filter.Value(); f != nil {
		df, err := contactFilter(f)
		if err != nil {
			return sel, err
		}
		sel.Filter = &df
	}
	return sel, nil
}

// jobEvents streams a job as it is now, then again after each of its events, until it ends
// (the last value pushed is the ended job) or ctx ends. Each value is the job read afresh, so
// a subscriber that the bus drops for falling behind is subscribed again without losing
// anything but intermediate states.
func (r *Resolver) jobEvents(ctx context.Context, gid string) (<-chan *rubrica.Job, error) {
	if r.Services.Events == nil {
		return nil, errors.New("graph: no event service")
	}
	id, err := localID(gid, typeJob, "jobId")
	if err != nil {
		return nil, err
	}
	if _, err := r.Services.Jobs.FindJobByID(ctx, id); err != nil {
		return nil, withInputField(err, "jobId")
	}
	// Subscribe, then read the job as it is: no change between the two is missed.
	f := rubrica.EventFilter{Kind: rubrica.KindJob, SubjectID: &id}
	sub, err := r.Services.Events.Subscribe(ctx, f)
	if err != nil {
		return nil, err
	}
	job, err := r.Services.Jobs.FindJobByID(ctx, id)
	if err != nil {
		return nil, withInputField(err, "jobId")
	}
	out := make(chan *rubrica.Job)
	go func() {
		defer close(out)
		send := func(j *rubrica.Job) bool {
			select {
			case out <- j:
				return !j.Status.Done()
			case <-ctx.Done():
				return false
			}
		}
		if !send(job) {
			return
		}
		for {
			for range sub.C {
				j, err := r.Services.Jobs.FindJobByID(ctx, id)
				if err != nil || !send(j) {
					return
				}
			}
			if !errors.Is(sub.Err(), rubrica.ErrSubscriberTooSlow) {
				return
			}
			if sub, err = r.Services.Events.Subscribe(ctx, f); err != nil {
				return
			}
			j, err := r.Services.Jobs.FindJobByID(ctx, id)
			if err != nil || !send(j) {
				return
			}
		}
	}()
	return out, nil
}

package db

import (
	"strings"
	"time"

	"rubrica"
)

// mergeSnapshot is everything a merge changed, to undo it exactly. It is the store's own form,
// with its own JSON names: renaming a domain field cannot lose a value on undo. Secondaries are
// the contacts merged away, in the order they merged (one for a merge of two; a group merge
// lists each); Primary is what the merge changed on the contact that stayed.
type mergeSnapshot struct {
	Secondaries []snapshotParty `json:"secondaries"`
	Primary     primaryChanges  `json:"primary"`
}

// snapshotParty is one contact merged away, as it was, and where its things went.
type snapshotParty struct {
	Contact            snapshotContact    `json:"contact"`
	Custom             map[string]string  `json:"custom"`     // definition id → value
	CustomKeys         map[string]string  `json:"customKeys"` // definition id → key, for the history
	Identities         []snapshotIdentity `json:"identities"` // for the history
	Tags               []string           `json:"tags"`
	Links              []string           `json:"links"`
	Conversations      []string           `json:"conversations"`
	WorkflowRuns       []string           `json:"workflowRuns,omitempty"`
	ClosedConversation *string            `json:"closedConversation,omitempty"` // its open one, closed by the merge
}

// snapshotContact is a contact's stored values.
type snapshotContact struct {
	ID                string     `json:"id"`
	WorkspaceID       string     `json:"workspaceId"`
	FirstName         *string    `json:"firstName"`
	LastName          *string    `json:"lastName"`
	ProfileName       *string    `json:"profileName"`
	ProfilePictureURL *string    `json:"profilePictureUrl"`
	Phones            []string   `json:"phones"` // the primary first
	Emails            []string   `json:"emails"` // the primary first
	Country           *string    `json:"country"`
	CountryManual     bool       `json:"countryManual"`
	Language          *string    `json:"language"`
	AssigneeID        *string    `json:"assigneeId"`
	BlockedAt         *time.Time `json:"blockedAt"`
	CreatedAt         time.Time  `json:"createdAt"`
	UpdatedAt         time.Time  `json:"updatedAt"`
}

// snapshotIdentity is a channel identity of a contact merged away.
type snapshotIdentity struct {
	ChannelID  string `json:"channelId"`
	Identifier string `json:"identifier"`
}

// primaryChanges is what a merge changed on the primary.
type primaryChanges struct {
	Fields          map[string]valueChange `json:"fields"` // standard field key → change (phones and emails apart)
	Phones          *listChange            `json:"phones,omitempty"`
	Emails          *listChange            `json:"emails,omitempty"`
	CountryManual   bool                   `json:"countryManual"`
	BlockedAt       *time.Time             `json:"blockedAt"`
	MergedBlockedAt *time.Time             `json:"mergedBlockedAt"`
	Custom          map[string]valueChange `json:"custom"`    // definition id → change
	AddedTags       []string               `json:"addedTags"` // tags the primary gained
}

// valueChange is one value a merge changed: Old before, New after.
type valueChange struct {
	Old *string `json:"old"`
	New *string `json:"new"`
}

// listChange is a list of values a merge changed.
type listChange struct {
	Old []string `json:"old"`
	New []string `json:"new"`
}

func valueChanges(in map[string]rubrica.FieldChange) map[string]valueChange {
	out := make(map[string]valueChange, len(in))
	for k, ch := range in {
		out[k] = valueChange{Old: ch.Old, New: ch.New}
	}
	return out
}

func toSnapshotContact(c *rubrica.Contact) snapshotContact {
	return snapshotContact{ID: c.ID, WorkspaceID: c.WorkspaceID, FirstName: c.FirstName, LastName: c.LastName,
		ProfileName: c.ProfileName, ProfilePictureURL: c.ProfilePictureURL, Phones: c.Phones(), Emails: c.Emails(),
		Country: c.Country, CountryManual: c.CountryManual, Language: c.Language, AssigneeID: c.AssigneeID,
		BlockedAt: c.BlockedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func (s snapshotContact) contact() rubrica.Contact {
	c := rubrica.Contact{ID: s.ID, WorkspaceID: s.WorkspaceID, FirstName: s.FirstName, LastName: s.LastName,
		ProfileName: s.ProfileName, ProfilePictureURL: s.ProfilePictureURL, Country: s.Country,
		CountryManual: s.CountryManual, Language: s.Language, AssigneeID: s.AssigneeID,
		BlockedAt: s.BlockedAt, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	c.SetPhones(s.Phones)
	c.SetEmails(s.Emails)
	return c
}

// listChangeOf returns the change from old to new, or nil when they are the same list.
func listChangeOf(old, new []string) *listChange {
	if strings.Join(old, "\x00") == strings.Join(new, "\x00") && len(old) == len(new) {
		return nil
	}
	return &listChange{Old: old, New: new}
}

// undo returns the values a list goes back to on undo: the list before the merge when it is
// as the merge left it; else (edited since, which stays) the current list without the values
// the merge brought, which go back with the contact they came from. key compares values.
func (ch *listChange) undo(cur []string, key func(string) string) []string {
	if ch == nil {
		return cur
	}
	if strings.Join(cur, "\x00") == strings.Join(ch.New, "\x00") && len(cur) == len(ch.New) {
		return ch.Old
	}
	had := map[string]bool{}
	for _, v := range ch.Old {
		had[key(v)] = true
	}
	added := map[string]bool{}
	for _, v := range ch.New {
		if !had[key(v)] {
			added[key(v)] = true
		}
	}
	out := []string{}
	for _, v := range cur {
		if !added[key(v)] {
			out = append(out, v)
		}
	}
	return out
}

func samePhone(s string) string { return s }

package rubrica

import (
	"context"
	"strings"
)

// ContactExport is what a CSV export of contacts reads, in one consistent snapshot.
type ContactExport struct {
	Workspace   *Workspace
	Definitions []*CustomFieldDefinition
	Contacts    []*Contact                     // oldest first
	Tags        map[string][]*Tag              // by contact id, by name
	Values      map[string][]*CustomFieldValue // by contact id
	Members     map[string]*Member             // the assignees, by id
}

// ExportService reads the contacts of a CSV export.
type ExportService interface {
	// ExportContacts reads the selected contacts, at most MaxBulkContacts of them (else
	// LIMIT_EXCEEDED saying how many were selected), with what their CSV rows show.
	ExportContacts(ctx context.Context, sel ContactSelection) (*ContactExport, error)
}

// Columns are the keys of the export's columns after the id: the standard and custom fields
// in the workspace's field order, with "otherEmails" right after "email" and "otherPhones"
// right after "phone" (the values after the primary), then "tags".
func (e *ContactExport) Columns() []string {
	keys := make([]string, len(e.Definitions))
	for i, d := range e.Definitions {
		keys[i] = d.Key
	}
	var out []string
	for _, k := range EffectiveFieldOrder(e.Workspace.FieldOrder, keys) {
		out = append(out, k)
		switch k {
		case "email":
			out = append(out, "otherEmails")
		case "phone":
			out = append(out, "otherPhones")
		}
	}
	return append(out, "tags")
}

// Header is the CSV header: "id", then Columns.
func (e *ContactExport) Header() []string {
	return append([]string{"id"}, e.Columns()...)
}

// Record is one contact's CSV row under Header, with id as its first cell. Every cell is
// neutralised (see SafeCell). The assignee is shown by email, tags by name joined with ", ".
func (e *ContactExport) Record(c *Contact, id string) []string {
	values := map[string]string{}
	for _, v := range e.Values[c.ID] {
		if v.Value != nil {
			values[v.Definition.Key] = *v.Value
		}
	}
	cols := e.Columns()
	out := make([]string, 0, len(cols)+1)
	out = append(out, SafeCell(id))
	for _, k := range cols {
		var s string
		switch k {
		case "otherEmails":
			s = strings.Join(c.OtherEmails, ", ")
		case "otherPhones":
			s = strings.Join(c.OtherPhones, ", ")
		case "assignee":
			if c.AssigneeID != nil {
				if m := e.Members[*c.AssigneeID]; m != nil {
					s = m.Email
				}
			}
		case "tags":
			names := make([]string, len(e.Tags[c.ID]))
			for i, t := range e.Tags[c.ID] {
				names[i] = t.Name
			}
			s = strings.Join(names, ", ")
		default:
			if f := standardFieldByKey[k]; f != nil && f.Ordered { // a custom key may be profileName
				s = deref(*f.Value(c))
			} else {
				s = values[k]
			}
		}
		out = append(out, SafeCell(s))
	}
	return out
}

// SafeCell neutralises a cell that a spreadsheet would run as a formula: one that starts
// with =, +, -, @, a tab or a carriage return gets a leading single quote, so it shows as
// text (OWASP "CSV injection"). Phone numbers (+39...) and negative numbers are quoted too.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

package rubrica

// StandardField is one standard contact field: its key (in the API's field order, merge field
// choices and the CSV export) and where a contact holds its value. Adding a standard field
// is adding it here.
type StandardField struct {
	Key string
	// Ordered fields take part in the workspace's field order and have a CSV column.
	Ordered bool
	// Value points at the contact's value (for phone and email, the primary).
	Value func(c *Contact) **string
}

// StandardFields are the standard contact fields, in their default order.
var StandardFields = []StandardField{
	{Key: "firstName", Ordered: true, Value: func(c *Contact) **string { return &c.FirstName }},
	{Key: "lastName", Ordered: true, Value: func(c *Contact) **string { return &c.LastName }},
	{Key: "email", Ordered: true, Value: func(c *Contact) **string { return &c.Email }},
	{Key: "phone", Ordered: true, Value: func(c *Contact) **string { return &c.Phone }},
	{Key: "country", Ordered: true, Value: func(c *Contact) **string { return &c.Country }},
	{Key: "language", Ordered: true, Value: func(c *Contact) **string { return &c.Language }},
	{Key: "assignee", Ordered: true, Value: func(c *Contact) **string { return &c.AssigneeID }},
	{Key: "profilePictureUrl", Value: func(c *Contact) **string { return &c.ProfilePictureURL }},
	{Key: "profileName", Value: func(c *Contact) **string { return &c.ProfileName }},
}

// standardFieldByKey indexes StandardFields.
var standardFieldByKey = func() map[string]*StandardField {
	out := make(map[string]*StandardField, len(StandardFields))
	for i := range StandardFields {
		out[StandardFields[i].Key] = &StandardFields[i]
	}
	return out
}()

func standardKeys(ordered bool) []string {
	var out []string
	for _, f := range StandardFields {
		if f.Ordered || !ordered {
			out = append(out, f.Key)
		}
	}
	return out
}

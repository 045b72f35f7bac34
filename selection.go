package rubrica

// ContactSelection is the contacts a bulk action applies to: the listed ids, or every contact
// a filter matches. Exactly one of the two is given.
type ContactSelection struct {
	IDs    []string
	Filter *ContactFilter
}

// Validate checks that exactly one of ids and filter is given; idsField names the input field
// of the ids for the error.
func (s ContactSelection) Validate(idsField string) error {
	switch {
	case s.IDs != nil && s.Filter != nil:
		return InvalidField(idsField, "give either %s or filter, not both.", idsField)
	case s.Filter == nil && len(s.IDs) == 0:
		return InvalidField(idsField, "name at least one contact in %s, or give a filter.", idsField)
	}
	return nil
}

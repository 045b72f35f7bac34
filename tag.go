package rubrica

import (
	"context"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Tag labels contacts; names are unique per workspace, case-insensitively.
type Tag struct {
	ID          string
	WorkspaceID string
	Name        string
	Color       *string
	CreatedAt   time.Time
}

// TagInput defines a new tag.
type TagInput struct {
	Name  string
	Color *string
}

// MaxTagNameLength is the longest tag name, in characters.
const MaxTagNameLength = 64

// MaxBulkContacts is the most contacts one bulk action (tagging, export) takes.
const MaxBulkContacts = 100

var colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// NormalizeTagName trims a tag name and checks its length.
func NormalizeTagName(field, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxTagNameLength || !ValidText(name) {
		return "", InvalidField(field, "a tag name must be 1 to %d characters.", MaxTagNameLength)
	}
	return name, nil
}

// ValidateTagInput normalises a new tag.
func ValidateTagInput(in *TagInput) error {
	var err error
	if in.Name, err = NormalizeTagName("name", in.Name); err != nil {
		return err
	}
	if in.Color != nil {
		c := strings.ToLower(strings.TrimSpace(*in.Color))
		if !colorPattern.MatchString(c) {
			return InvalidField("color", "color must be #RRGGBB.")
		}
		in.Color = &c
	}
	return nil
}

// TagsAdded is what addTagsToContacts did, read in its transaction.
type TagsAdded struct {
	ContactIDs []string     // the contacts tagged, in the order given (by creation for a filter)
	Contacts   []*Contact   // those contacts as tagged, in the same order
	Tags       []*Tag       // the tags applied, including those created
	Lists      ContactLists // the contacts' tags, and the counts of those tags
}

// TagRemoved is what removeTagFromContact did, read in its transaction.
type TagRemoved struct {
	Contact *Contact
	Tag     *Tag
	Lists   ContactLists // the contact's tags, and the counts of those tags and Tag
}

// TagService reads and changes tags, within the actor's workspace.
type TagService interface {
	// CreateTag creates a tag; a name already taken is CONFLICT.
	CreateTag(ctx context.Context, in TagInput) (*Tag, error)
	// FindTagByID returns a tag, or NOT_FOUND.
	FindTagByID(ctx context.Context, id string) (*Tag, error)
	// FindTags lists tags by name, optionally those whose name contains search.
	FindTags(ctx context.Context, search string, page Page) (*Connection[*Tag], error)
	// CountTags counts the tags FindTags would list.
	CountTags(ctx context.Context, search string) (int, error)
	// AddTagsToContacts tags at most MaxBulkContacts contacts, given by id or by a filter,
	// with tags given by id or by name; a name no tag has creates the tag. A larger selection
	// is LIMIT_EXCEEDED, saying how many were selected. It returns what its transaction
	// committed.
	AddTagsToContacts(ctx context.Context, sel ContactSelection, tagIDs, tagNames []string) (*TagsAdded, error)
	// RemoveTagFromContact unlinks a tag from a contact; the tag itself stays. It returns what
	// its transaction committed.
	RemoveTagFromContact(ctx context.Context, contactID, tagID string) (*TagRemoved, error)
	// FindTagsByContactIDs returns each contact's tags, by name.
	FindTagsByContactIDs(ctx context.Context, contactIDs []string) (map[string][]*Tag, error)
	// CountContactsByTagIDs returns how many contacts carry each tag.
	CountContactsByTagIDs(ctx context.Context, tagIDs []string) (map[string]int, error)
}

package rubrica

import (
	"context"
	"errors"
	"time"

	"golang.org/x/text/language"
)

// ConversationStatus is whether a conversation is open.
type ConversationStatus string

// The conversation statuses.
const (
	ConversationOpen   ConversationStatus = "OPEN"
	ConversationClosed ConversationStatus = "CLOSED"
)

// Conversation is a thread of messages with one contact. A contact has at most one open
// conversation; a message joins it or opens a new one.
type Conversation struct {
	ID          string
	WorkspaceID string
	ContactID   string
	ChannelID   *string // the channel it started on
	Status      ConversationStatus
	CreatedAt   time.Time
	ClosedAt    *time.Time
	Hidden      bool // holds only messages of a blocked contact; no list shows it
}

// MessageDirection says who wrote a message.
type MessageDirection string

// The message directions.
const (
	Inbound  MessageDirection = "INBOUND"
	Outbound MessageDirection = "OUTBOUND"
)

// Message is one message of a conversation.
type Message struct {
	ID             string
	ConversationID string
	ChannelID      *string
	Identifier     string // the contact's identity on the channel it came through
	Direction      MessageDirection
	Text           string
	SentAt         time.Time
	ExternalID     *string
}

// Profile is what a channel tells about a person who writes for the first time.
type Profile struct {
	FirstName      *string
	LastName       *string
	DisplayName    *string
	PictureURL     *string
	Language       *string
	AcceptLanguage *string // a browser's Accept-Language header (WEBCHAT)
}

// InboundMessage is a message a channel integration delivers.
type InboundMessage struct {
	ChannelID  string
	Identifier string
	Text       string
	SentAt     *time.Time
	ExternalID *string
	Profile    Profile
}

// Received is what receiveMessage did.
type Received struct {
	Contact        *Contact
	Conversation   *Conversation
	Message        *Message
	ContactCreated bool
	Duplicate      bool // the externalId was seen before: nothing changed
}

// Sent is what sendMessage did.
type Sent struct {
	Contact      *Contact
	Conversation *Conversation
	Message      *Message
	Channel      *Channel
	Connected    bool // the channel was INACTIVE and is now ACTIVE
}

// ConversationPageKey asks for one page of one parent's list (a contact's conversations or a
// conversation's messages); keys with the same page are loaded with one statement.
type ConversationPageKey struct {
	ParentID string
	First    int
	After    string
}

// MaxMessageLength is the longest message text, in bytes.
const MaxMessageLength = 65536

// ConversationService handles messages and conversations.
type ConversationService interface {
	// ReceiveMessage records an inbound message: finds or creates the contact, links the
	// channel, joins or opens the conversation. An identity a member unlinked links again to
	// the contact of its latest message. The same externalId twice changes nothing.
	ReceiveMessage(ctx context.Context, in InboundMessage) (*Received, error)
	// SendMessage records an outbound message; channelID nil picks the default channel.
	// identifier, when given, is which of the contact's phones or emails an INACTIVE channel
	// connects (on an ACTIVE one, which linked identifier to write to).
	SendMessage(ctx context.Context, contactID string, channelID, identifier *string, text string) (*Sent, error)
	// CloseConversation closes a conversation.
	CloseConversation(ctx context.Context, id string) (*Conversation, error)
	// FindConversationByID returns a conversation, or NOT_FOUND.
	FindConversationByID(ctx context.Context, id string) (*Conversation, error)
	// FindMessageByID returns a message, or NOT_FOUND.
	FindMessageByID(ctx context.Context, id string) (*Message, error)
	// FindLatestConversationStatus returns the status of each contact's latest conversation.
	FindLatestConversationStatus(ctx context.Context, contactIDs []string) (map[string]ConversationStatus, error)
	// FindConversationPages returns pages of contacts' conversations, newest first.
	FindConversationPages(ctx context.Context, keys []ConversationPageKey) (map[ConversationPageKey]*Connection[*Conversation], error)
	// FindMessagePages returns pages of conversations' messages, newest first.
	FindMessagePages(ctx context.Context, keys []ConversationPageKey) (map[ConversationPageKey]*Connection[*Message], error)
	// CountConversations counts each contact's conversations.
	CountConversations(ctx context.Context, contactIDs []string) (map[string]int, error)
	// CountMessages counts each conversation's messages.
	CountMessages(ctx context.Context, conversationIDs []string) (map[string]int, error)
}

// ContactFromProfile builds the contact a first message creates: names, picture and language
// from the profile (a WEBCHAT browser's Accept-Language when the profile names no language),
// and the phone or email when the identifier is one. Input errors name `profile.<field>`.
func ContactFromProfile(workspaceID string, t ChannelType, identifier string, p Profile) (*Contact, error) {
	c := &Contact{WorkspaceID: workspaceID}
	lang := p.Language
	if lang == nil && t == ChannelWebchat && p.AcceptLanguage != nil {
		lang = preferredLanguage(*p.AcceptLanguage)
	}
	in := ContactChanges{
		FirstName: Opt[string]{Set: true, Value: p.FirstName}, LastName: Opt[string]{Set: true, Value: p.LastName},
		ProfilePictureURL: Opt[string]{Set: true, Value: p.PictureURL}, Language: Opt[string]{Set: true, Value: lang},
	}
	switch t {
	case ChannelWhatsApp: // an old form of a number is stored in its current form
		_, phone, err := NormalizeWhatsAppIdentifier(identifier)
		if err != nil {
			return nil, err
		}
		in.Phone = SetTo(phone)
	case ChannelSMS:
		in.Phone = SetTo(identifier)
	case ChannelEmail:
		in.Email = SetTo(identifier)
	}
	if err := ApplyContactChanges(c, in); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Field != "" && e.Field != "phone" && e.Field != "email" {
			e = &Error{Code: e.Code, Message: e.Message, Field: "profile." + e.Field}
			if e.Field == "profile.profilePictureUrl" {
				e.Field = "profile.pictureUrl"
			}
			return nil, e
		}
		return nil, err
	}
	if p.DisplayName != nil {
		name, err := NormalizeName("profile.displayName", p.DisplayName)
		if err != nil {
			return nil, err
		}
		c.ProfileName = name
	}
	return c, nil
}

// anyLanguage is what language.ParseAcceptLanguage makes of the wildcard "*".
var anyLanguage = language.Make("mul")

// preferredLanguage returns the first usable tag of an Accept-Language header: not the
// wildcard "*", which names no language.
func preferredLanguage(header string) *string {
	tags, _, err := language.ParseAcceptLanguage(header)
	if err != nil {
		return nil
	}
	for _, t := range tags {
		if t != language.Und && t != anyLanguage {
			s := t.String()
			return &s
		}
	}
	return nil
}

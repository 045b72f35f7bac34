package rubrica

import (
	"context"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// ChannelType is the kind of a channel.
type ChannelType string

// The channel types of API.md.
const (
	ChannelFacebook  ChannelType = "FACEBOOK"
	ChannelInstagram ChannelType = "INSTAGRAM"
	ChannelWhatsApp  ChannelType = "WHATSAPP"
	ChannelSMS       ChannelType = "SMS"
	ChannelEmail     ChannelType = "EMAIL"
	ChannelTelegram  ChannelType = "TELEGRAM"
	ChannelLine      ChannelType = "LINE"
	ChannelViber     ChannelType = "VIBER"
	ChannelWebchat   ChannelType = "WEBCHAT"
)

// Valid reports whether t is a known channel type.
func (t ChannelType) Valid() bool {
	switch t {
	case ChannelFacebook, ChannelInstagram, ChannelWhatsApp, ChannelSMS, ChannelEmail,
		ChannelTelegram, ChannelLine, ChannelViber, ChannelWebchat:
		return true
	}
	return false
}

// Channel is one of a workspace's channels: a WhatsApp number, a Facebook page, a mailbox.
type Channel struct {
	ID          string
	WorkspaceID string
	Type        ChannelType
	Name        string
	PageID      *string // FACEBOOK: the page's id, for conversation links
	CreatedAt   time.Time
}

// ChannelInput defines a new channel.
type ChannelInput struct {
	Type   ChannelType
	Name   string
	PageID *string
}

// ValidateChannelInput checks and normalises a new channel.
func ValidateChannelInput(in *ChannelInput) error {
	if !in.Type.Valid() {
		return InvalidField("type", "unknown channel type %q.", in.Type)
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > MaxNameLength {
		return InvalidField("name", "a channel name must be 1 to %d characters.", MaxNameLength)
	}
	if in.PageID != nil {
		p := strings.TrimSpace(*in.PageID)
		in.PageID = &p
		if p == "" {
			in.PageID = nil
		}
	}
	switch {
	case in.Type == ChannelFacebook && in.PageID == nil:
		return InvalidField("pageId", "a FACEBOOK channel needs the id of its page.")
	case in.Type == ChannelFacebook && !isDigits(*in.PageID):
		return InvalidField("pageId", "a Facebook page id is a number.")
	case in.Type != ChannelFacebook && in.PageID != nil:
		return InvalidField("pageId", "only FACEBOOK channels take a page id.")
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// NormalizeIdentifier checks a contact's address on a channel of type t: an E.164 phone for
// WhatsApp (or the old form of one, see NormalizeWhatsAppIdentifier) and SMS, an email (lower-cased) for email, a non-blank id of at most 255
// characters for the others.
func NormalizeIdentifier(t ChannelType, identifier string) (string, error) {
	s := strings.TrimSpace(identifier)
	switch t {
	case ChannelWhatsApp:
		id, _, err := NormalizeWhatsAppIdentifier(s)
		return id, err
	case ChannelSMS:
		p, _, err := NormalizePhone("identifier", &s)
		if err != nil {
			return "", err
		} else if p == nil {
			return "", InvalidField("identifier", "a %s identifier is a phone number in E.164 form.", t)
		}
		return *p, nil
	case ChannelEmail:
		e, err := NormalizeEmail("identifier", &s)
		if err != nil {
			return "", err
		} else if e == nil {
			return "", InvalidField("identifier", "an EMAIL identifier is an email address.")
		}
		return strings.ToLower(*e), nil
	}
	if s == "" || utf8.RuneCountInString(s) > MaxNameLength {
		return "", InvalidField("identifier", "the identifier must be 1 to %d characters.", MaxNameLength)
	}
	return s, nil
}

// ContactChannelStatus is how a contact stands on a channel.
type ContactChannelStatus string

// The statuses of a contact's channel.
const (
	// StatusActive: linked, with interactions.
	StatusActive ContactChannelStatus = "ACTIVE"
	// StatusInactive: not linked, but a member can connect it by sending the first message.
	StatusInactive ContactChannelStatus = "INACTIVE"
	// StatusUnavailable: the contact must write first.
	StatusUnavailable ContactChannelStatus = "UNAVAILABLE"
)

// ChannelLink is a contact's identity on a channel.
type ChannelLink struct {
	ID                string
	ContactID         string
	ChannelID         string
	Identifier        string
	ConnectedAt       time.Time
	LastInteractionAt time.Time
}

// ContactChannel is one channel of the workspace as one contact stands there.
type ContactChannel struct {
	Contact           *Contact
	Channel           *Channel
	Status            ContactChannelStatus
	Identifier        *string
	ConnectedAt       *time.Time
	LastInteractionAt *time.Time
	ConversationURL   *string
}

// CanConnect reports whether a member can connect the channel by sending the first message.
func (cc *ContactChannel) CanConnect() bool { return cc.Status == StatusInactive }

// connectAddress returns the address a member would write to on a channel of type t, if the
// contact has one: the phone for WhatsApp and SMS, the email for email.
func connectAddress(t ChannelType, c *Contact) *string {
	switch t {
	case ChannelWhatsApp, ChannelSMS:
		return c.Phone
	case ChannelEmail:
		if c.Email != nil {
			e := strings.ToLower(*c.Email)
			return &e
		}
	}
	return nil
}

// ContactChannelOf computes a contact's standing on a channel from its links there (any
// number, most recent interaction first is not required): ACTIVE with links, else INACTIVE
// when a member can write first (WhatsApp and SMS with a phone, email with an email), else
// UNAVAILABLE.
func ContactChannelOf(c *Contact, ch *Channel, links []*ChannelLink) *ContactChannel {
	cc := &ContactChannel{Contact: c, Channel: ch, Status: StatusUnavailable}
	if len(links) > 0 {
		latest := links[0]
		first := links[0].ConnectedAt
		for _, l := range links[1:] {
			if l.LastInteractionAt.After(latest.LastInteractionAt) {
				latest = l
			}
			if l.ConnectedAt.Before(first) {
				first = l.ConnectedAt
			}
		}
		id, last := latest.Identifier, latest.LastInteractionAt
		cc.Status, cc.Identifier, cc.ConnectedAt, cc.LastInteractionAt = StatusActive, &id, &first, &last
		cc.ConversationURL = ConversationURL(ch, id)
		return cc
	}
	if addr := connectAddress(ch.Type, c); addr != nil {
		cc.Status, cc.Identifier = StatusInactive, addr
	}
	return cc
}

// PickIdentifier makes identifier the one a message on cc goes to: on an INACTIVE channel,
// one of the contact's phones (WhatsApp, SMS) or emails (email, compared case-insensitively);
// on an ACTIVE one, one of the links there. Anything else is BAD_USER_INPUT on identifier.
func PickIdentifier(cc *ContactChannel, links []*ChannelLink, identifier string) error {
	s := strings.TrimSpace(identifier)
	switch cc.Status {
	case StatusInactive:
		var values []string
		switch cc.Channel.Type {
		case ChannelWhatsApp, ChannelSMS:
			values = cc.Contact.Phones()
		case ChannelEmail:
			values = cc.Contact.Emails()
			s = strings.ToLower(s)
		}
		for _, v := range values {
			if cc.Channel.Type == ChannelEmail {
				v = strings.ToLower(v)
			}
			if v == s {
				cc.Identifier = &v
				return nil
			}
		}
		return InvalidField("identifier", "%s is not one of the contact's %s.", Quoted(identifier), map[bool]string{true: "emails", false: "phones"}[cc.Channel.Type == ChannelEmail])
	case StatusActive:
		for _, l := range links {
			if l.Identifier == s {
				id := l.Identifier
				cc.Identifier = &id
				return nil
			}
		}
		return InvalidField("identifier", "%s is not linked to the contact on %s.", Quoted(identifier), cc.Channel.Name)
	}
	return nil
}

// ConversationURL is the link to a conversation on the provider's own inbox, where there is
// one: for FACEBOOK, the Meta Business Suite inbox of the page with the conversation of the
// page-scoped id selected:
// https://business.facebook.com/latest/inbox/all?asset_id=<pageId>&selected_item_id=<psid>.
func ConversationURL(ch *Channel, identifier string) *string {
	if ch.Type != ChannelFacebook || ch.PageID == nil {
		return nil
	}
	q := url.Values{"asset_id": {*ch.PageID}, "selected_item_id": {identifier}}
	u := "https://business.facebook.com/latest/inbox/all?" + q.Encode()
	return &u
}

// DefaultChannelOrder is the order in which sendMessage picks an inactive channel to connect
// when no channel is given and the contact has no interactions.
var DefaultChannelOrder = []ChannelType{ChannelWhatsApp, ChannelSMS, ChannelEmail}

// ContactChannelRemoved is what removeContactChannel did, read in its transaction.
type ContactChannelRemoved struct {
	Contact *Contact
	Channel *Channel
	Lists   ContactLists // the contact's links and the workspace's channels
}

// ChannelService manages a workspace's channels.
type ChannelService interface {
	// CreateChannel adds a channel (owners and managers).
	CreateChannel(ctx context.Context, in ChannelInput) (*Channel, error)
	// FindChannels lists the workspace's channels, oldest first.
	FindChannels(ctx context.Context) ([]*Channel, error)
	// FindChannelByID returns a channel, or NOT_FOUND.
	FindChannelByID(ctx context.Context, id string) (*Channel, error)
	// FindLinksByContactIDs returns each contact's channel links.
	FindLinksByContactIDs(ctx context.Context, contactIDs []string) (map[string][]*ChannelLink, error)
	// RemoveContactChannel unlinks a channel from a contact (owners and managers); the
	// conversation history stays. It returns what its transaction committed.
	RemoveContactChannel(ctx context.Context, contactID, channelID string) (*ContactChannelRemoved, error)
}

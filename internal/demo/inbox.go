package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"rubrica"
)

// The demo's channels: what a small shop answers on.
var channelInputs = []rubrica.ChannelInput{
	{Type: rubrica.ChannelWhatsApp, Name: "WhatsApp Business"},
	{Type: rubrica.ChannelSMS, Name: "SMS"},
	{Type: rubrica.ChannelEmail, Name: "Support mailbox"},
	{Type: rubrica.ChannelFacebook, Name: "Rubrica Shop on Facebook", PageID: ptr("104729385123456")},
	{Type: rubrica.ChannelInstagram, Name: "Instagram @rubrica.shop"},
	{Type: rubrica.ChannelWebchat, Name: "Website chat"},
}

// The seed of the conversations' own random sequence: the people of plan() do not depend on it.
const (
	inboxSeed1 = 20250310
	inboxSeed2 = 914
)

// The share of the planned people who wrote first on WhatsApp, SMS or email (they arrive
// through receiveMessage), and of those a member wrote to first (sendMessage on an INACTIVE
// channel); the newcomers who only ever wrote on Facebook, Instagram or the website chat.
const (
	shareWroteFirst  = 0.28
	shareMemberFirst = 0.12
)

var newcomers = []struct {
	t rubrica.ChannelType
	n int
}{
	{rubrica.ChannelFacebook, 12},
	{rubrica.ChannelInstagram, 10},
	{rubrica.ChannelWebchat, 8},
}

// inbox plays the demo's conversations through the ConversationService, as the owner. Its
// choices come from a fixed random sequence; only the times follow the clock: inbound
// messages are spread over the four weeks before the seed, and the members' replies (which
// sendMessage records as sent now) come at the seed's time.
type inbox struct {
	s        rubrica.Services
	r        *rand.Rand
	channels map[rubrica.ChannelType]*rubrica.Channel
	taken    map[string]bool // channel id + identity, once linked to a contact
	anchor   time.Time       // the seed's time
	orders   int             // order numbers quoted in messages
}

func newInbox(ctx context.Context, s rubrica.Services) (*inbox, error) {
	b := &inbox{s: s, r: rand.New(rand.NewPCG(inboxSeed1, inboxSeed2)), channels: map[rubrica.ChannelType]*rubrica.Channel{},
		taken: map[string]bool{}, anchor: time.Now().Truncate(time.Minute), orders: 10480}
	for _, in := range channelInputs {
		ch, err := s.Channels.CreateChannel(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("demo: create channel %s: %w", in.Name, err)
		}
		b.channels[in.Type] = ch
	}
	return b, nil
}

func (b *inbox) chance(p float64) bool { return b.r.Float64() < p }

// identity returns a person's address on a channel of type t, "" where there is none.
func identity(t rubrica.ChannelType, in rubrica.ContactChanges) string {
	switch t {
	case rubrica.ChannelWhatsApp, rubrica.ChannelSMS:
		return deref(in.Phone.Value)
	case rubrica.ChannelEmail:
		return strings.ToLower(deref(in.Email.Value))
	}
	return ""
}

func (b *inbox) key(t rubrica.ChannelType, identifier string) string {
	return b.channels[t].ID + "|" + identifier
}

// story decides how a planned person met the shop: wrote first, was written to first, or
// neither; and on which channel, among those whose identity nobody holds yet (duplicates
// share phones and emails, and an identity belongs to one contact).
func (b *inbox) story(in rubrica.ContactChanges) (wroteFirst bool, t rubrica.ChannelType, ok bool) {
	x := b.r.Float64()
	if x >= shareWroteFirst+shareMemberFirst {
		return false, "", false
	}
	wroteFirst = x < shareWroteFirst
	var options []rubrica.ChannelType
	if in.Phone.Value != nil {
		if b.chance(0.7) {
			options = append(options, rubrica.ChannelWhatsApp, rubrica.ChannelSMS)
		} else {
			options = append(options, rubrica.ChannelSMS, rubrica.ChannelWhatsApp)
		}
	}
	if in.Email.Value != nil {
		if len(options) > 0 && b.chance(0.3) {
			options = append([]rubrica.ChannelType{rubrica.ChannelEmail}, options...)
		} else {
			options = append(options, rubrica.ChannelEmail)
		}
	}
	for _, t := range options {
		if !b.taken[b.key(t, identity(t, in))] {
			return wroteFirst, t, true
		}
	}
	return false, "", false
}

// arrive creates a planned person's contact: by hand, or through the conversation the
// person had with the shop.
func (b *inbox) arrive(ctx context.Context, p *person, in rubrica.ContactChanges) (*rubrica.Contact, error) {
	wroteFirst, t, ok := b.story(in)
	switch {
	case !ok:
		return b.s.Contacts.CreateContact(ctx, in)
	case !wroteFirst:
		c, err := b.s.Contacts.CreateContact(ctx, in)
		if err != nil {
			return nil, err
		}
		return c, b.memberFirst(ctx, p, c, t, identity(t, in))
	}
	ch, identifier := b.channels[t], identity(t, in)
	profile := rubrica.Profile{FirstName: in.FirstName.Value, LastName: in.LastName.Value, Language: in.Language.Value}
	texts := textsFor(deref(in.Language.Value))
	start := b.past()
	var c *rubrica.Contact
	if b.chance(0.15) {
		// An older conversation, closed since.
		older := start.Add(-time.Duration(5+b.r.IntN(20)) * 24 * time.Hour)
		rec, err := b.receive(ctx, ch, identifier, b.topic(texts)[0], older, profile)
		if err != nil {
			return nil, err
		}
		c = rec.Contact
		if _, err := b.s.Conversations.CloseConversation(ctx, rec.Conversation.ID); err != nil {
			return nil, fmt.Errorf("demo: close conversation: %w", err)
		}
	}
	topic := b.topic(texts)
	rec, err := b.receive(ctx, ch, identifier, topic[0], start, profile)
	if err != nil {
		return nil, err
	}
	if c == nil {
		c = rec.Contact
	}
	// The rest of what the shop knows of the person: email or phone, custom values, assignee.
	if c, err = b.s.Contacts.UpdateContact(ctx, c.ID, in); err != nil {
		return nil, err
	}
	return c, b.carryOn(ctx, ch, identifier, rec, texts, topic[1], start)
}

// memberFirst: a member writes to a contact made by hand, connecting the channel; some
// answer.
func (b *inbox) memberFirst(ctx context.Context, p *person, c *rubrica.Contact, t rubrica.ChannelType, identifier string) error {
	ch := b.channels[t]
	texts := textsFor(deref(c.Language))
	name := ""
	if c.FirstName != nil {
		name = " " + *c.FirstName
	}
	sent, err := b.s.Conversations.SendMessage(ctx, c.ID, &ch.ID, nil, fmt.Sprintf(pick(b.r, texts.outreach), name))
	if err != nil {
		return fmt.Errorf("demo: send message to %s: %w", p.describe(), err)
	}
	b.taken[b.key(t, identifier)] = true
	if b.chance(0.6) {
		if _, err := b.receive(ctx, ch, identifier, pick(b.r, texts.thanks), time.Time{}, rubrica.Profile{}); err != nil {
			return err
		}
	}
	if b.chance(0.4) {
		if _, err := b.s.Conversations.CloseConversation(ctx, sent.Conversation.ID); err != nil {
			return fmt.Errorf("demo: close conversation: %w", err)
		}
	}
	return nil
}

// carryOn continues a conversation a contact opened at start: more messages, perhaps a
// reply and a thank-you, perhaps closed.
func (b *inbox) carryOn(ctx context.Context, ch *rubrica.Channel, identifier string, rec *rubrica.Received, texts *texts, answer string, start time.Time) error {
	at := start
	for range b.r.IntN(3) {
		at = at.Add(time.Duration(1+b.r.IntN(30)) * time.Minute)
		if _, err := b.receive(ctx, ch, identifier, b.followUp(texts), at, rubrica.Profile{}); err != nil {
			return err
		}
	}
	if !b.chance(0.65) {
		return nil // still waiting for an answer
	}
	if _, err := b.s.Conversations.SendMessage(ctx, rec.Contact.ID, nil, nil, answer); err != nil {
		return fmt.Errorf("demo: reply: %w", err)
	}
	if b.chance(0.5) {
		if _, err := b.receive(ctx, ch, identifier, pick(b.r, texts.thanks), time.Time{}, rubrica.Profile{}); err != nil {
			return err
		}
	}
	if b.chance(0.45) {
		if _, err := b.s.Conversations.CloseConversation(ctx, rec.Conversation.ID); err != nil {
			return fmt.Errorf("demo: close conversation: %w", err)
		}
	}
	return nil
}

// receive records an inbound message; a zero at means now.
func (b *inbox) receive(ctx context.Context, ch *rubrica.Channel, identifier, text string, at time.Time, profile rubrica.Profile) (*rubrica.Received, error) {
	m := rubrica.InboundMessage{ChannelID: ch.ID, Identifier: identifier, Text: text, Profile: profile}
	if !at.IsZero() {
		m.SentAt = &at
	}
	switch ch.Type {
	case rubrica.ChannelWhatsApp:
		m.ExternalID = ptr("wamid.HBgM" + digits(b.r, 20))
	case rubrica.ChannelEmail:
		m.ExternalID = ptr("<" + digits(b.r, 12) + "@mail.example.com>")
	}
	rec, err := b.s.Conversations.ReceiveMessage(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("demo: receive message from %s on %s: %w", identifier, ch.Name, err)
	}
	b.taken[b.key(ch.Type, identifier)] = true
	return rec, nil
}

// past returns a time of day between 8:00 and 21:00 (UTC) on one of the 27 days before the
// seed's.
func (b *inbox) past() time.Time {
	day := b.anchor.Truncate(24 * time.Hour).Add(-time.Duration(1+b.r.IntN(27)) * 24 * time.Hour)
	return day.Add(8*time.Hour + time.Duration(b.r.IntN(13*60))*time.Minute)
}

// topic picks what a conversation is about: the contact's first message and the answer.
func (b *inbox) topic(t *texts) [2]string { return pick(b.r, t.topics) }

func (b *inbox) followUp(t *texts) string {
	s := pick(b.r, t.followUps)
	if strings.Contains(s, "%d") {
		b.orders += 1 + b.r.IntN(40)
		s = fmt.Sprintf(s, b.orders)
	}
	return s
}

// welcome brings the newcomers who wrote on Facebook, Instagram or the website chat: the
// channel's profile is all the shop knows of them.
func (b *inbox) welcome(ctx context.Context) error {
	g := &planner{r: b.r}
	for _, l := range locales {
		g.total += l.weight
	}
	for _, nc := range newcomers {
		ch := b.channels[nc.t]
		for range nc.n {
			l := g.locale()
			female := b.chance(0.5)
			given := l.male
			if female {
				given = l.female
			}
			first, romanFirst := nameForm(pick(b.r, given), female)
			last, romanLast := nameForm(pick(b.r, l.last), female)
			lang := pick(b.r, l.languages)
			var identifier string
			var profile rubrica.Profile
			switch nc.t {
			case rubrica.ChannelFacebook: // a page-scoped id, the names and picture of the profile
				identifier = "6" + digits(b.r, 15)
				profile = rubrica.Profile{FirstName: &first, LastName: &last,
					PictureURL: ptr("https://cdn.example.com/avatars/fb-" + identifier + ".jpg")}
				if lang != "" {
					profile.Language = &lang
				}
			case rubrica.ChannelInstagram: // an Instagram-scoped id and the username
				identifier = "1784" + digits(b.r, 13)
				handle := fold(romanFirst) + "." + fold(romanLast)
				if b.chance(0.4) {
					handle = fold(romanFirst) + "_" + digits(b.r, 2)
				}
				profile = rubrica.Profile{DisplayName: &handle}
				if b.chance(0.5) {
					profile.PictureURL = ptr("https://cdn.example.com/avatars/ig-" + identifier + ".jpg")
				}
			default: // a website visitor: the browser's languages, a name if typed in the form
				identifier = "visitor-" + digits(b.r, 10)
				profile = rubrica.Profile{AcceptLanguage: ptr(acceptLanguage(lang))}
				if b.chance(0.4) {
					profile.FirstName = &first
				}
			}
			if b.taken[b.key(nc.t, identifier)] {
				continue
			}
			texts := textsFor(lang)
			start, topic := b.past(), b.topic(texts)
			rec, err := b.receive(ctx, ch, identifier, topic[0], start, profile)
			if err != nil {
				return err
			}
			if err := b.carryOn(ctx, ch, identifier, rec, texts, topic[1], start); err != nil {
				return err
			}
		}
	}
	return nil
}

// acceptLanguage returns the Accept-Language header of a browser set to lang.
func acceptLanguage(lang string) string {
	if lang == "" {
		return "en-US,en;q=0.9"
	}
	base, _, regional := strings.Cut(lang, "-")
	switch {
	case base == "en":
		return lang + ",en;q=0.9"
	case regional:
		return lang + "," + base + ";q=0.9,en;q=0.8"
	}
	return lang + ",en;q=0.8"
}

// texts are the messages of one language: the topics contacts write about (what they write
// first and what a member answers), what they add, how they thank, and how members write
// first (%s: " " and the first name, or nothing).
type texts struct {
	topics            [][2]string
	followUps, thanks []string
	outreach          []string
}

var textsByLanguage = map[string]*texts{
	"en": {
		topics: [][2]string{
			{"Hi! Is the blue jacket still available in size M?", "Hi! Yes, it's in stock. Shall I reserve it for you?"},
			{"Hello, my order hasn't arrived yet. Can you check?", "Sorry for the wait! Your parcel left this morning."},
			{"Hi, I'd like to change the delivery address of my order.", "Sure, I've updated the address on your order."},
			{"What are your opening hours on Saturday?", "We're open 9:00 to 19:00 on Saturdays."},
			{"Can I return an item I bought online in the shop?", "Yes, you can return it in any shop within 30 days with the receipt."},
			{"Hello, I never received the invoice for my last order.", "Thanks for writing. I've just sent it again to your email."},
			{"Do you have gift cards?", "We do: from 20 to 200 euros, in the shop or online."},
		},
		followUps: []string{"The order number is %d.", "Thanks in advance!", "It's a bit urgent, sorry.", "Any news?"},
		thanks:    []string{"Great, thank you!", "Perfect 👍", "Thanks a lot!", "OK, thanks."},
		outreach:  []string{"Hi%s, your order is ready for pickup.", "Hello%s, just checking that everything arrived in good condition.", "Hi%s, your appointment is confirmed for tomorrow at 10:00."},
	},
	"it": {
		topics: [][2]string{
			{"Buongiorno, la giacca blu è ancora disponibile in taglia M?", "Buongiorno! Sì, è disponibile. Vuole che gliela teniamo da parte?"},
			{"Ciao! Il mio ordine non è ancora arrivato, potete controllare?", "Scusi l'attesa! Il pacco è partito stamattina."},
			{"Salve, vorrei cambiare l'indirizzo di consegna.", "Certo, ho aggiornato l'indirizzo sul suo ordine."},
			{"Che orari fate il sabato?", "Il sabato siamo aperti dalle 9 alle 19."},
			{"Posso restituire in negozio un articolo comprato online?", "Sì, entro 30 giorni con lo scontrino, in qualsiasi negozio."},
		},
		followUps: []string{"Il numero d'ordine è %d.", "Grazie in anticipo!", "È abbastanza urgente, scusate.", "Novità?"},
		thanks:    []string{"Perfetto, grazie mille!", "Ottimo 👍", "Grazie!"},
		outreach:  []string{"Ciao%s, il tuo ordine è pronto per il ritiro.", "Buongiorno%s, è arrivato tutto in buone condizioni?"},
	},
	"es": {
		topics: [][2]string{
			{"Hola, ¿tenéis la chaqueta azul en talla M?", "¡Hola! Sí, la tenemos. ¿Te la reservamos?"},
			{"Hola, mi pedido todavía no ha llegado. ¿Podéis revisarlo?", "Perdona la espera, tu paquete ha salido esta mañana."},
			{"¿Cuál es el horario del sábado?", "Los sábados abrimos de 9:00 a 19:00."},
		},
		followUps: []string{"El número de pedido es %d.", "¡Gracias de antemano!", "¿Alguna novedad?"},
		thanks:    []string{"¡Genial, gracias!", "Perfecto 👍", "¡Muchas gracias!"},
		outreach:  []string{"Hola%s, tu pedido ya está listo para recoger.", "Hola%s, ¿llegó todo en buen estado?"},
	},
	"pt": {
		topics: [][2]string{
			{"Olá, o casaco azul ainda está disponível no tamanho M?", "Olá! Sim, temos. Quer que reservemos para você?"},
			{"Oi! Meu pedido ainda não chegou, podem verificar?", "Desculpe a demora! Seu pacote saiu hoje de manhã."},
			{"Qual é o horário de sábado?", "Aos sábados abrimos das 9h às 19h."},
		},
		followUps: []string{"O número do pedido é %d.", "Obrigado desde já!", "Alguma novidade?"},
		thanks:    []string{"Ótimo, obrigado!", "Perfeito 👍", "Muito obrigada!"},
		outreach:  []string{"Olá%s, seu pedido está pronto para retirada.", "Olá%s, chegou tudo em boas condições?"},
	},
	"de": {
		topics: [][2]string{
			{"Hallo, ist die blaue Jacke noch in Größe M verfügbar?", "Hallo! Ja, sie ist vorrätig. Sollen wir sie für Sie reservieren?"},
			{"Guten Tag, meine Bestellung ist noch nicht angekommen. Können Sie nachsehen?", "Entschuldigen Sie die Wartezeit! Ihr Paket ist heute Morgen rausgegangen."},
			{"Wie sind Ihre Öffnungszeiten am Samstag?", "Samstags haben wir von 9 bis 19 Uhr geöffnet."},
		},
		followUps: []string{"Die Bestellnummer ist %d.", "Vielen Dank im Voraus!", "Gibt es etwas Neues?"},
		thanks:    []string{"Super, danke!", "Perfekt 👍", "Vielen Dank!"},
		outreach:  []string{"Hallo%s, Ihre Bestellung liegt zur Abholung bereit.", "Guten Tag%s, ist alles gut angekommen?"},
	},
	"fr": {
		topics: [][2]string{
			{"Bonjour, la veste bleue est-elle encore disponible en taille M ?", "Bonjour ! Oui, elle est en stock. Voulez-vous que nous la mettions de côté ?"},
			{"Bonjour, ma commande n'est toujours pas arrivée. Pouvez-vous vérifier ?", "Désolé pour l'attente ! Votre colis est parti ce matin."},
			{"Quels sont vos horaires le samedi ?", "Le samedi, nous sommes ouverts de 9 h à 19 h."},
		},
		followUps: []string{"Le numéro de commande est %d.", "Merci d'avance !", "Des nouvelles ?"},
		thanks:    []string{"Super, merci !", "Parfait 👍", "Merci beaucoup !"},
		outreach:  []string{"Bonjour%s, votre commande est prête à être retirée.", "Bonjour%s, tout est-il bien arrivé ?"},
	},
}

// textsFor returns the texts of a language tag's base language, English where the demo has
// none.
func textsFor(lang string) *texts {
	base, _, _ := strings.Cut(lang, "-")
	if t, ok := textsByLanguage[base]; ok {
		return t
	}
	return textsByLanguage["en"]
}

package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// locale is where a demo contact comes from: the names people there have, the phones they
// carry, the languages they write in and the businesses they work for.
//
// A name is "Native" or "Native|Roman" where the native script is not Latin; a surname with
// a masculine and a feminine form is "M/F" (in both halves of a "Native|Roman" pair).
type locale struct {
	weight        int      // share of the contacts, relative to the other locales
	male, female  []string // given names
	last          []string // surnames
	doubleSurname float64  // chance of two surnames (Spanish-speaking countries)
	languages     []string // BCP 47 tags, repeated to weigh them; "" leaves the language unset
	country       string   // set by hand on some contacts without a phone
	phone         func(r *rand.Rand) string
	companies     []string // "Name" or "Name|slug" where the name is not Latin
	billing       []string // local parts of billing addresses
}

// digits returns n random decimal digits.
func digits(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(byte('0' + r.IntN(10)))
	}
	return b.String()
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// mobile returns a phone plan: the country code, one of the prefixes, then n digits.
func mobile(cc string, prefixes []string, n int) func(r *rand.Rand) string {
	return func(r *rand.Rand) string { return "+" + cc + pick(r, prefixes) + digits(r, n) }
}

// northAmerican returns US numbers in real area codes, avoiding the 555 exchange (whose
// 01xx lines are reserved for fiction) and the N11 service codes.
func northAmerican(areas []string) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		for {
			exchange := fmt.Sprintf("%d%s", 2+r.IntN(8), digits(r, 2))
			if exchange != "555" && exchange[1:] != "11" {
				return "+1" + pick(r, areas) + exchange + digits(r, 4)
			}
		}
	}
}

var locales = []*locale{
	{ // Italy
		weight: 26,
		male: []string{"Marco", "Giuseppe", "Luca", "Alessandro", "Francesco", "Matteo", "Andrea", "Lorenzo",
			"Davide", "Simone", "Federico", "Riccardo", "Niccolò", "Gabriele", "Salvatore", "Antonio", "Pietro", "Tommaso"},
		female: []string{"Giulia", "Francesca", "Chiara", "Sara", "Martina", "Alessia", "Elena", "Valentina",
			"Federica", "Sofia", "Aurora", "Beatrice", "Ilaria", "Noemi", "Rosalia", "Carlotta"},
		last: []string{"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
			"Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi",
			"Moretti", "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "D'Angelo", "Longo",
			"Gentile", "Vitale", "Serra", "Coppola", "De Santis", "Parisi", "Fabbri", "Sanna", "Cattaneo", "Nicolò"},
		languages: []string{"it", "it", "it", "it", "it", "it", "en", "", ""},
		country:   "IT",
		phone: mobile("39", []string{"320", "324", "327", "328", "329", "331", "333", "334", "335", "338", "339",
			"340", "342", "345", "347", "348", "349", "351", "366", "380", "388", "392"}, 7),
		companies: []string{"Trattoria Da Mario", "Ferramenta Bianchi", "Officina Meccanica Rossi", "Studio Legale Conti",
			"Pasticceria Marino", "Hotel Bellavista", "Cantina Lombardi", "Tessuti Galli", "Farmacia Centrale"},
		billing: []string{"amministrazione", "fatture", "info"},
	},
	{ // Spain
		weight: 9,
		male:   []string{"Javier", "Alejandro", "Pablo", "Daniel", "Sergio", "Álvaro", "Adrián", "Hugo", "Iñigo", "Raúl"},
		female: []string{"Lucía", "María", "Paula", "Carmen", "Laura", "Marta", "Irene", "Nuria", "Ainhoa", "Begoña"},
		last: []string{"García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez",
			"Gómez", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Navarro", "Ibáñez", "Castaño"},
		doubleSurname: 0.4,
		languages:     []string{"es", "es", "es", "es", "ca", "eu", ""},
		country:       "ES",
		phone:         mobile("34", []string{"6"}, 8),
		companies:     []string{"Librería Cervantes", "Bodegas Navarro", "Taller Ruiz", "Clínica Dental Sol", "Ferretería La Llave"},
		billing:       []string{"facturacion", "admin", "info"},
	},
	{ // Mexico
		weight: 5,
		male:   []string{"José", "Luis", "Carlos", "Juan Pablo", "Miguel Ángel", "Jorge", "Emiliano", "Santiago"},
		female: []string{"Guadalupe", "Ximena", "Sofía", "Valeria", "Fernanda", "Mariana", "Daniela", "Regina"},
		last: []string{"Hernández", "García", "Martínez", "López", "Ramírez", "Cruz", "Flores", "Morales",
			"Reyes", "Gutiérrez", "Mendoza", "Aguilar", "Castillo", "Chávez", "Juárez", "Velázquez"},
		doubleSurname: 0.5,
		languages:     []string{"es-MX", "es-MX", "es-MX", "es", ""},
		country:       "MX",
		phone:         mobile("52", []string{"55", "33", "81"}, 8),
		companies:     []string{"Tacos El Güero", "Muebles Ortiz", "Café de Olla", "Artesanías Oaxaca"},
		billing:       []string{"facturacion", "contabilidad"},
	},
	{ // Portugal
		weight: 5,
		male:   []string{"João", "Tiago", "Rodrigo", "Duarte", "Gonçalo", "Afonso", "Rui", "Nuno"},
		female: []string{"Inês", "Beatriz", "Leonor", "Matilde", "Mariana", "Joana", "Conceição", "Sílvia"},
		last: []string{"Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
			"Sousa", "Gonçalves", "Magalhães", "Simões", "Araújo", "Lourenço", "Figueiredo"},
		languages: []string{"pt-PT", "pt-PT", "pt", ""},
		country:   "PT",
		phone:     mobile("351", []string{"91", "92", "93", "96"}, 7),
		companies: []string{"Pastelaria Belém", "Cortiças Ferreira", "Azulejos do Porto"},
		billing:   []string{"faturacao", "geral"},
	},
	{ // Brazil
		weight: 7,
		male:   []string{"Gabriel", "Lucas", "Matheus", "Guilherme", "Rafael", "Felipe", "Thiago", "Vinícius"},
		female: []string{"Ana Clara", "Júlia", "Larissa", "Camila", "Fernanda", "Letícia", "Bianca", "Luana"},
		last: []string{"da Silva", "dos Santos", "Souza", "Lima", "Oliveira", "Pereira", "Barros", "Cavalcanti",
			"Nascimento", "Araújo", "Ribeiro", "Carvalho", "Gomes", "Rocha"},
		languages: []string{"pt-BR", "pt-BR", "pt-BR", "pt", ""},
		country:   "BR",
		phone:     mobile("55", []string{"119", "219", "319", "419", "519", "619", "719", "819"}, 8),
		companies: []string{"Padaria Pão Quente", "Açaí da Praia", "Construtora Lima", "Sabor Mineiro"},
		billing:   []string{"financeiro", "contato"},
	},
	{ // Germany
		weight: 10,
		male:   []string{"Lukas", "Jonas", "Maximilian", "Felix", "Leon", "Paul", "Tobias", "Florian", "Jürgen", "Stefan"},
		female: []string{"Anna", "Lena", "Hannah", "Sophie", "Katharina", "Julia", "Jana", "Lea", "Ursula", "Sabine"},
		last: []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
			"Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Krüger", "Weiß"},
		languages: []string{"de", "de", "de", "de", "en", ""},
		country:   "DE",
		phone:     mobile("49", []string{"151", "152", "157", "160", "162", "176", "177", "178", "179"}, 8),
		companies: []string{"Bäckerei Müller", "Autohaus Becker", "Weber & Söhne GmbH", "Brauerei Schneider", "Fahrradladen Koch"},
		billing:   []string{"buchhaltung", "rechnung", "info"},
	},
	{ // France
		weight: 8,
		male:   []string{"Louis", "Gabriel", "Hugo", "Théo", "Mathis", "Antoine", "Julien", "Étienne"},
		female: []string{"Camille", "Léa", "Chloé", "Manon", "Inès", "Émilie", "Zoé", "Margaux"},
		last: []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
			"Moreau", "Lefèvre", "Girard", "Mercier", "Dupont", "Lambert", "Bonnet", "François"},
		languages: []string{"fr", "fr", "fr", "fr", "en", ""},
		country:   "FR",
		phone:     mobile("33", []string{"6", "7"}, 8),
		companies: []string{"Boulangerie Dupont", "Librairie Lefèvre", "Atelier Moreau", "Fromagerie du Marché"},
		billing:   []string{"comptabilite", "factures"},
	},
	{ // Japan
		weight: 6,
		male:   []string{"翔太|Shota", "大輝|Daiki", "健太|Kenta", "拓海|Takumi", "蓮|Ren", "悠真|Yuma"},
		female: []string{"さくら|Sakura", "美咲|Misaki", "陽菜|Hina", "結衣|Yui", "葵|Aoi", "花子|Hanako"},
		last: []string{"佐藤|Sato", "鈴木|Suzuki", "高橋|Takahashi", "田中|Tanaka", "渡辺|Watanabe", "伊藤|Ito",
			"山本|Yamamoto", "中村|Nakamura", "小林|Kobayashi", "加藤|Kato"},
		languages: []string{"ja", "ja", "ja", "en", ""},
		country:   "JP",
		phone:     mobile("81", []string{"90", "80", "70"}, 8),
		companies: []string{"山田商店|yamada-shoten", "さくら食品|sakura-foods", "東京デザイン株式会社|tokyo-design"},
		billing:   []string{"keiri", "info"},
	},
	{ // Egypt
		weight: 4,
		male:   []string{"محمد|Mohamed", "أحمد|Ahmed", "يوسف|Youssef", "عمر|Omar", "كريم|Karim", "حسن|Hassan"},
		female: []string{"فاطمة|Fatma", "ليلى|Layla", "مريم|Mariam", "نور|Nour", "هدى|Hoda", "ياسمين|Yasmin"},
		last: []string{"المصري|Elmasry", "حسن|Hassan", "السيد|Elsayed", "النجار|Elnaggar", "إبراهيم|Ibrahim",
			"منصور|Mansour", "سليمان|Soliman"},
		languages: []string{"ar", "ar-EG", "ar", "en", ""},
		country:   "EG",
		phone:     mobile("20", []string{"10", "11", "12", "15"}, 8),
		companies: []string{"شركة النور|alnour", "مطعم الشام|elsham", "Nile Textiles|niletextiles"},
		billing:   []string{"accounts", "info"},
	},
	{ // Saudi Arabia
		weight: 3,
		male:   []string{"عبد الله|Abdullah", "خالد|Khalid", "فيصل|Faisal", "سلطان|Sultan", "علي|Ali"},
		female: []string{"سارة|Sara", "نورة|Noura", "ريم|Reem", "لمى|Lama", "هيفاء|Haifa"},
		last: []string{"القحطاني|Alqahtani", "الحربي|Alharbi", "العتيبي|Alotaibi", "الزهراني|Alzahrani",
			"الغامدي|Alghamdi", "الشمري|Alshammari"},
		languages: []string{"ar", "ar-SA", "ar", "en"},
		country:   "SA",
		phone:     mobile("966", []string{"50", "53", "55", "56", "59"}, 7),
		companies: []string{"مؤسسة الرياض|riyadh-est", "Desert Rose Trading|desertrose"},
		billing:   []string{"finance", "info"},
	},
	{ // United Arab Emirates
		weight:    2,
		male:      []string{"راشد|Rashid", "حمدان|Hamdan", "سيف|Saif", "ماجد|Majid"},
		female:    []string{"شيخة|Shaikha", "مريم|Maryam", "عائشة|Aisha", "لطيفة|Latifa"},
		last:      []string{"المنصوري|Almansoori", "الهاشمي|Alhashimi", "الكعبي|Alkaabi", "المهيري|Almheiri"},
		languages: []string{"ar", "ar-AE", "en", "en"},
		country:   "AE",
		phone:     mobile("971", []string{"50", "52", "54", "55", "56", "58"}, 7),
		companies: []string{"Gulf Pearl Logistics|gulfpearl", "واحة التمر|datesoasis"},
		billing:   []string{"accounts", "finance"},
	},
	{ // Greece
		weight: 5,
		male: []string{"Γιώργος|Giorgos", "Δημήτρης|Dimitris", "Νίκος|Nikos", "Κώστας|Kostas", "Γιάννης|Giannis",
			"Παναγιώτης|Panagiotis"},
		female: []string{"Μαρία|Maria", "Ελένη|Eleni", "Αικατερίνη|Aikaterini", "Σοφία|Sofia", "Αναστασία|Anastasia",
			"Δέσποινα|Despoina"},
		last: []string{"Παπαδόπουλος/Παπαδοπούλου|Papadopoulos/Papadopoulou", "Παπαδάκης/Παπαδάκη|Papadakis/Papadaki",
			"Γεωργίου|Georgiou", "Οικονόμου|Oikonomou", "Νικολάου|Nikolaou", "Βασιλείου|Vasileiou",
			"Μακρής/Μακρή|Makris/Makri", "Ιωάννου|Ioannou", "Καραγιάννης/Καραγιάννη|Karagiannis/Karagianni",
			"Πετρίδης/Πετρίδου|Petridis/Petridou"},
		languages: []string{"el", "el", "el", "en", ""},
		country:   "GR",
		phone:     mobile("30", []string{"69"}, 8),
		companies: []string{"Ταβέρνα Ο Νίκος|taverna-nikos", "Aegean Olive Co.|aegeanolive"},
		billing:   []string{"logistirio", "info"},
	},
	{ // United States
		weight: 6,
		male:   []string{"James", "Michael", "Ethan", "Noah", "Daniel", "Tyler", "Marcus"},
		female: []string{"Emily", "Olivia", "Madison", "Ashley", "Hannah", "Grace", "Keisha"},
		last: []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
			"Taylor", "Jackson", "Thompson", "Nguyen", "O'Brien", "Kowalski", "Washington"},
		languages: []string{"en-US", "en-US", "en-US", "en", "es-US"},
		country:   "US",
		phone:     northAmerican([]string{"212", "415", "646", "312", "617", "206", "512", "305", "303"}),
		companies: []string{"Golden Gate Bikes", "Brooklyn Roasters", "Lone Star Plumbing", "Emerald City Books"},
		billing:   []string{"billing", "accounts"},
	},
	{ // United Kingdom
		weight: 4,
		male:   []string{"Oliver", "Harry", "George", "Jack", "Alfie", "Callum"},
		female: []string{"Amelia", "Isla", "Poppy", "Freya", "Charlotte", "Imogen"},
		last: []string{"Smith", "Jones", "Taylor", "Evans", "Roberts", "Wright", "Walker", "Hughes", "Clarke",
			"O'Connor", "MacDonald", "Patel", "Khan"},
		languages: []string{"en-GB", "en-GB", "en", ""},
		country:   "GB",
		phone:     mobile("44", []string{"74", "75", "77", "78", "79"}, 8),
		companies: []string{"Camden Books", "Thames Tea Ltd", "Highland Woollens"},
		billing:   []string{"accounts", "invoices"},
	},
	{ // Russia
		weight: 2,
		male:   []string{"Александр|Aleksandr", "Дмитрий|Dmitry", "Сергей|Sergey", "Иван|Ivan", "Михаил|Mikhail"},
		female: []string{"Анна|Anna", "Екатерина|Ekaterina", "Ольга|Olga", "Наталья|Natalya", "Татьяна|Tatyana"},
		last: []string{"Иванов/Иванова|Ivanov/Ivanova", "Смирнов/Смирнова|Smirnov/Smirnova",
			"Кузнецов/Кузнецова|Kuznetsov/Kuznetsova", "Попов/Попова|Popov/Popova", "Соколов/Соколова|Sokolov/Sokolova",
			"Волков/Волкова|Volkov/Volkova"},
		languages: []string{"ru", "ru", "en"},
		country:   "RU",
		phone:     mobile("7", []string{"91", "92", "98"}, 8),
		companies: []string{"Балтика Логистик|baltika-logistik"},
		billing:   []string{"buh", "info"},
	},
	{ // South Korea
		weight:    3,
		male:      []string{"민준|Minjun", "지훈|Jihoon", "도윤|Doyun", "현우|Hyunwoo", "서준|Seojun"},
		female:    []string{"서연|Seoyeon", "하은|Haeun", "지민|Jimin", "수아|Sua", "예린|Yerin"},
		last:      []string{"김|Kim", "이|Lee", "박|Park", "최|Choi", "정|Jung", "강|Kang", "조|Cho", "윤|Yoon"},
		languages: []string{"ko", "ko", "en"},
		country:   "KR",
		phone:     mobile("82", []string{"102", "103", "104", "105", "106", "107", "108", "109"}, 7),
		companies: []string{"서울 전자|seoul-electronics", "한빛 식품|hanbit-foods"},
		billing:   []string{"account", "info"},
	},
}

// nameForm splits a "Native|Roman" name, and picks the masculine or feminine form of each
// half written "M/F".
func nameForm(s string, female bool) (native, roman string) {
	native, roman, ok := strings.Cut(s, "|")
	if !ok {
		roman = native
	}
	return gendered(native, female), gendered(roman, female)
}

func gendered(s string, female bool) string {
	m, f, ok := strings.Cut(s, "/")
	if ok && female {
		return f
	}
	return m
}

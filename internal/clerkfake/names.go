package clerkfake

// Realistic personal data. Other tests grep logs for these names and
// addresses to prove that syncd does not leak personal data, so they must
// look like the real thing rather than "user1". Some names carry non-ASCII
// letters because Postgres text handling is part of what is under test; the
// ascii form feeds email addresses and usernames.

type personName struct {
	display string
	ascii   string
}

var firstNames = []personName{
	{"Ada", "ada"}, {"Grace", "grace"}, {"Alan", "alan"}, {"Katherine", "katherine"},
	{"Edsger", "edsger"}, {"Barbara", "barbara"}, {"Donald", "donald"}, {"Margaret", "margaret"},
	{"Dennis", "dennis"}, {"Frances", "frances"}, {"Ken", "ken"}, {"Radia", "radia"},
	{"Linus", "linus"}, {"Hedy", "hedy"}, {"Tim", "tim"}, {"Sophie", "sophie"},
	{"Guido", "guido"}, {"Shafi", "shafi"}, {"John", "john"}, {"Karen", "karen"},
	{"José", "jose"}, {"Zoë", "zoe"}, {"Björn", "bjorn"}, {"Søren", "soren"},
	{"Chloé", "chloe"}, {"Ólafur", "olafur"}, {"Amélie", "amelie"}, {"Jürgen", "jurgen"},
	{"Priya", "priya"}, {"Wei", "wei"}, {"Yuki", "yuki"}, {"Oluwaseun", "oluwaseun"},
	{"Fatima", "fatima"}, {"Mateo", "mateo"}, {"Ingrid", "ingrid"}, {"Kwame", "kwame"},
}

var lastNames = []personName{
	{"Lovelace", "lovelace"}, {"Hopper", "hopper"}, {"Turing", "turing"}, {"Johnson", "johnson"},
	{"Dijkstra", "dijkstra"}, {"Liskov", "liskov"}, {"Knuth", "knuth"}, {"Hamilton", "hamilton"},
	{"Ritchie", "ritchie"}, {"Allen", "allen"}, {"Thompson", "thompson"}, {"Perlman", "perlman"},
	{"Torvalds", "torvalds"}, {"Lamarr", "lamarr"}, {"Berners-Lee", "bernerslee"}, {"Wilson", "wilson"},
	{"van Rossum", "vanrossum"}, {"Goldwasser", "goldwasser"}, {"McCarthy", "mccarthy"}, {"Spärck Jones", "sparckjones"},
	{"García", "garcia"}, {"Müller", "muller"}, {"Østergaard", "ostergaard"}, {"Nakamura", "nakamura"},
	{"Okafor", "okafor"}, {"Patel", "patel"}, {"Nguyen", "nguyen"}, {"Kowalski", "kowalski"},
	{"Lefèvre", "lefevre"}, {"Sigurðsson", "sigurdsson"}, {"Haddad", "haddad"}, {"Mensah", "mensah"},
}

// Reserved documentation domains (RFC 2606), so a mistaken real delivery can
// never reach anyone.
var emailDomains = []string{"example.com", "example.org", "example.net", "mail.example.com"}

var orgNames = []string{
	"Acme Corp", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Industries",
	"Wayne Enterprises", "Cyberdyne Systems", "Soylent", "Vandelay Industries",
	"Wonka Industries", "Tyrell Corporation", "Massive Dynamic", "Aperture Science",
	"Pied Piper", "Oscorp", "Gringotts", "Monarch Solutions", "Nakatomi Trading", "Blue Sun",
}

var userAgents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
	"clerk-sdk-go/v2.4.2",
	"node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
}

var plans = []string{"free", "pro", "team", "enterprise"}
var locales = []string{"en-GB", "en-US", "fr-FR", "de-DE", "ja-JP", "pt-BR", "is-IS"}
var departments = []string{"Engineering", "Sales", "Support", "Finance", "Research", "Legal"}
var industries = []string{"aerospace", "biotech", "confectionery", "finance", "logistics", "media"}

package topic

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// testSpec: two apps with small hand-written example sets.
var testSpec = map[string]AppSpec{
	"burritos": {
		Allowed: map[string][]string{
			"ordering": {
				"I want to order two chicken burritos",
				"Can I get a burrito with extra guacamole and no sour cream?",
				"Add a side of chips and salsa to my order",
				"What fillings do you have for the burrito bowl?",
				"Is the veggie burrito vegan?",
				"How long until my burrito delivery arrives?",
				"Cancel my order please",
				"Do you have gluten free tortillas?",
			},
			"store": {
				"What time does the restaurant close tonight?",
				"Where is your nearest location?",
				"Do you deliver to my address?",
			},
		},
		Disallowed: map[string][]string{
			"coding": {
				"Write a Python script to scrape a website",
				"Fix this Java null pointer exception",
				"How do I write a for loop in JavaScript?",
				"Explain recursion with a code example",
			},
		},
	},
	"clinical": {
		Allowed: map[string][]string{
			"summarisation": {
				"Summarise this discharge note for the patient",
				"Write a brief summary of the consultation: patient reports chest pain and shortness of breath",
				"Summarize the visit notes, including medications and follow-up plan",
				"Create a handover summary of the patient's history and current treatment",
				"List the diagnoses and medications mentioned in this clinical note",
			},
		},
	},
}

func TestClassify(t *testing.T) {
	c, err := New(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		app, text string
		nearest   string
		inScope   bool // expect InScope >= 0.5
	}{
		{"burritos", "I'd like to order a steak burrito with rice", "ordering", true},
		{"burritos", "can I add extra guacamole to my burritos", "ordering", true},
		{"burritos", "what time do you close?", "store", true},
		{"burritos", "Write a JavaScript function to sort an array", "coding", false},
		{"burritos", "Help me fix this Python exception in my code", "coding", false},
		{"burritos", "Who won the football world cup?", OtherTopic, false},
		{"clinical", "Please summarise the attached clinical note and list medications", "summarisation", true},
		{"clinical", "Write a poem about the ocean", OtherTopic, false},
		{"clinical", "Write a SQL query that groups sales by month", OtherTopic, false},
	}
	for _, tt := range tests {
		t.Run(tt.app+"/"+tt.text, func(t *testing.T) {
			r := c.Classify(tt.app, tt.text)
			if !r.Known {
				t.Fatal("Known = false")
			}
			if r.Nearest != tt.nearest {
				t.Errorf("Nearest = %q, want %q (in_scope %.2f)", r.Nearest, tt.nearest, r.InScope)
			}
			if got := r.InScope >= 0.5; got != tt.inScope {
				t.Errorf("InScope = %.3f, want in scope %v", r.InScope, tt.inScope)
			}
			if r.InScope < 0 || r.InScope > 1 {
				t.Errorf("InScope %.3f outside [0,1]", r.InScope)
			}
		})
	}
}

func TestUnknownAppAndEmptyText(t *testing.T) {
	c, err := New(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Classify("burritos", "two chicken burritos please"); !r.InScopeAt(DefaultThreshold) {
		t.Errorf("InScopeAt: %+v", r)
	}
	if r := c.Classify("nope", "order a burrito"); r.Known || r.InScope != 0 || r.Nearest != "" || r.InScopeAt(0) {
		t.Errorf("unknown app: %+v", r)
	}
	if r := c.Classify("burritos", "  ?!  "); !r.Known || r.InScope != 0 || r.Nearest != OtherTopic {
		t.Errorf("empty text: %+v", r)
	}
	b, _ := json.Marshal(c.Classify("burritos", "order a burrito"))
	if !strings.Contains(string(b), `"in_scope":`) || !strings.Contains(string(b), `"nearest":"ordering"`) {
		t.Errorf("json = %s", b)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(map[string]AppSpec{
		"a": {},
		"b": {
			Allowed:    map[string][]string{"x": {"ok", " "}, "y": nil},
			Disallowed: map[string][]string{"x": {"dup"}},
		},
	})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{
		"apps.a.allowed: at least one allowed topic",
		"apps.b.allowed.x[1]: empty example",
		"apps.b.allowed.y: no example prompts",
		`apps.b: topic "x" is both allowed and disallowed`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestConcurrentAndHostileInput(t *testing.T) {
	c, err := New(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"\xff\xfe burrito \xc3", strings.Repeat("burrito ", 20000), strings.Repeat("a", 200000), ""}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, in := range inputs {
				r := c.Classify("burritos", in)
				if r.InScope < 0 || r.InScope > 1 {
					t.Errorf("InScope %.3f", r.InScope)
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzClassify(f *testing.F) {
	c, err := New(testSpec)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"order a burrito", "\xff", "Ünïcödé ÖRDER", "write code'''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := c.Classify("burritos", s)
		if r.InScope < 0 || r.InScope > 1 || r.InScope != r.InScope {
			t.Fatalf("InScope %v for %q", r.InScope, s)
		}
	})
}

func BenchmarkClassify(b *testing.B) {
	c, err := New(testSpec)
	if err != nil {
		b.Fatal(err)
	}
	text := "Can I get two chicken burritos with extra guacamole delivered to my office before noon?"
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		c.Classify("burritos", text)
	}
}

func TestParse(t *testing.T) {
	c, err := Parse([]byte(`
apps:
  burritos:
    allowed:
      ordering: ["I want two chicken burritos", "add guacamole to my burrito order"]
    disallowed:
      coding: ["write a python script", "fix my javascript code"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Classify("burritos", "two burritos with guacamole please"); r.Nearest != "ordering" || r.InScope < 0.5 {
		t.Errorf("got %+v", r)
	}
	for _, bad := range []string{"", "apps: {}", "apps:\n  x:\n    alowed: {}\n", "apps:\n  x:\n    allowed:\n      t: []\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q): want error", bad)
		}
	}
	if _, err := Load("/nonexistent/topics.yaml"); err == nil {
		t.Error("Load: want error")
	}
}

// TestLanguageIsNotATopic: an app whose examples are German must judge a
// German prompt by what it asks, not by its function words. Before German
// stop words, "Schreibe mir bitte ein Gedicht über die Liebe und das Meer"
// was in scope of a German ordering app through "mir / bitte / ein / die /
// und / das" alone.
func TestLanguageIsNotATopic(t *testing.T) {
	c, err := New(map[string]AppSpec{
		"bestellung": {Allowed: map[string][]string{"bestellen": {
			"Ich möchte zwei Burritos mit Hähnchen bestellen",
			"Kann ich bei meiner Bestellung noch eine Guacamole dazu haben?",
			"Wann kommt meine Lieferung an?",
			"Ist der vegetarische Burrito auch vegan?",
			"Bitte storniere meine Bestellung, die ich gerade aufgegeben habe",
			"Habt ihr Tortillas ohne Gluten?",
			"Wie lange dauert die Lieferung zu mir nach Hause?",
		}}},
		"pedidos": {Allowed: map[string][]string{"pedir": {
			"Quiero pedir dos burritos de pollo",
			"¿Puedo añadir guacamole a mi pedido?",
			"¿Cuándo llega mi pedido a casa?",
			"¿El burrito vegetariano es vegano?",
			"Cancela mi pedido, por favor",
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		app, text string
		inScope   bool
	}{
		{"bestellung", "Ich möchte einen Burrito mit extra Guacamole bestellen", true},
		{"bestellung", "Wann kommt die Lieferung für meine Bestellung?", true},
		{"bestellung", "Schreibe mir bitte ein Gedicht über die Liebe und das Meer", false},
		{"bestellung", "Ich möchte, dass du mir die Relativitätstheorie erklärst", false},
		{"pedidos", "Quiero pedir un burrito vegano", true},
		{"pedidos", "Escribe un poema sobre el mar y la noche para mí", false},
	}
	for _, tt := range tests {
		r := c.Classify(tt.app, tt.text)
		if got := r.InScopeAt(DefaultThreshold); got != tt.inScope {
			t.Errorf("%s: %q: in_scope %.3f (nearest %s), want in scope %v", tt.app, tt.text, r.InScope, r.Nearest, tt.inScope)
		}
	}
}

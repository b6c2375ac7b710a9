package phi

import (
	"fmt"
	"strings"
	"testing"
)

// Cue-free names, places, international streets, address blocks, weekdays
// and cued years. want lists "TYPE value" pairs that must be among the
// findings; none lists values that must not be reported at all.
func TestNamesPlacesStreets(t *testing.T) {
	tests := []struct {
		text string
		want []string
		none []string
	}{
		{"Krisztián Szöllösy listed his top 20 songs", []string{"NAME Krisztián Szöllösy"}, nil},
		{"Have you been to a Ravil G Yefimov concert before?", []string{"NAME Ravil G Yefimov"}, nil},
		{"Hanne I. Kreutzmann from the bank is speaking", []string{"NAME Hanne I. Kreutzmann"}, nil},
		{"Kevin had given Alma his address", []string{"NAME Kevin", "NAME Alma"}, nil},
		{"\"I'm glad to hear it,\" says Hartvigsson.", []string{"NAME Hartvigsson"}, nil},
		{"They had 3: Gaetane, Hannah and Derek.", []string{"NAME Gaetane", "NAME Hannah", "NAME Derek"}, nil},
		{"Maite Lemmens's killers were sentenced", []string{"NAME Maite Lemmens"}, nil},
		{"The Davis, Reynolds and Williamson Orchestra was founded in 1977.", []string{"DATE 1977"}, []string{"Reynolds", "Williamson"}},
		{"Russell Investments is based in Oslo", nil, []string{"Russell Investments"}},
		{"Mr. Leiva flew to Loeches on Tuesday morning.", []string{"NAME Leiva", "ADDRESS Loeches", "DATE Tuesday"}, nil},
		{"She grew up in Remniku.", []string{"ADDRESS Remniku"}, nil},
		{"Where: Erwetegem Country Club.", []string{"ADDRESS Erwetegem"}, nil},
		{"Estonia was super fun to visit!", []string{"ADDRESS Estonia"}, nil},
		{"Who's coming to United Kingdom with me?", []string{"ADDRESS United Kingdom"}, nil},
		{"Tomomi Nishiyama lives at 86036 Rua do Arenque 1634, Goiânia", []string{"ADDRESS 86036", "ADDRESS Rua do Arenque 1634", "ADDRESS Goiânia"}, nil},
		{"Tilly Nicholson lives at 10252 Μεγάλη Άμμος 184, ΠΑΦΟΣ", []string{"ADDRESS 10252", "ADDRESS Μεγάλη Άμμος 184", "ADDRESS ΠΑΦΟΣ"}, []string{"NAME Μεγάλη Άμμος"}},
		{"Billing: 3482 Via Franscini 71 Suite 838\n   Tujetsch\n    7188", []string{"ADDRESS 3482", "ADDRESS Via Franscini 71", "ADDRESS Suite 838", "ADDRESS Tujetsch", "ADDRESS 7188"}, nil},
		{"41086 Kiannonkatu 98\n Suite 464\n OULU\n Finland 80896", []string{"ADDRESS 41086", "ADDRESS Kiannonkatu 98", "ADDRESS OULU", "ADDRESS Finland", "ADDRESS 80896"}, nil},
		{"Scott had given Belle his address: 975 3968 Bay Street, Toronto", []string{"ADDRESS 975", "ADDRESS 3968 Bay Street", "ADDRESS Toronto"}, nil},
		{"The bus drops you off at 07576 Magasinsgatan 7 St.", []string{"ADDRESS 07576", "ADDRESS Magasinsgatan 7 St."}, nil},
		{"Maureen Thibault\n\n41086 Kiannonkatu 98\n Suite 464\n OULU\n\n Finland 80896", []string{"ADDRESS OULU", "ADDRESS Finland", "ADDRESS 80896"}, nil},
		{"Who is here?\nDenmark 35018\nIn Germany 1990\nwas", []string{"ADDRESS Denmark", "ADDRESS 35018"}, []string{"ADDRESS 1990"}},
		{"hi, my name is lena andersson and my card is lost", []string{"NAME lena andersson"}, nil},
		{"my name is vitoria", []string{"NAME vitoria"}, nil},
		{"my name is being used by someone. Name: chest pain", nil, []string{"NAME"}},
		{"at the corner of Beiteveien 2 and Sieda Radial", []string{"ADDRESS Beiteveien 2 and Sieda Radial"}, nil},
		{"Meet me at the corner of 11 Botley Road St. and Herceg Gateway St. Then call.", []string{"ADDRESS 11 Botley Road St. and Herceg Gateway St."}, nil},
		{"the corner of the room", nil, []string{"ADDRESS"}},
		{"Please return to Unit 4719 Box 7394\nDPO AP 70942 in case", []string{"ADDRESS Unit 4719 Box 7394\nDPO AP 70942"}, nil},
		{"Meet me at PSC 1437, Box 3833\nAPO AA 66791", []string{"ADDRESS PSC 1437, Box 3833\nAPO AA 66791"}, nil},
		{"sent to USNS Lopez\nFPO AE 44941?", []string{"ADDRESS USNS Lopez\nFPO AE 44941"}, nil},
		{"Dreux Joly\n416 60 039 office\n07700 063 966-Fax", []string{"PHONE 416 60 039", "FAX 07700 063 966"}, nil},
		{"They're not answering at 78 651 450", []string{"PHONE 78 651 450"}, nil},
		{"Title VII of the Civil Rights Act of 2001 protects", []string{"DATE 2001"}, nil},
		{"During 1971, the firm invested", []string{"DATE 1971"}, nil},
		// Not names, places or dates.
		{"Patient has Graves disease and Bell's palsy.", nil, []string{"Graves", "Bell"}},
		{"Take 2 Tylenol 500 mg twice daily.", nil, []string{"Tylenol", "2 Tylenol 500"}},
		{"Increase to 2000 mg in 2000 units.", nil, []string{"2000"}},
		{"Chief Complaint: chest pain. Past Medical History: Heart Failure.", nil, []string{"Chief", "Heart Failure", "Past Medical"}},
		{"Mark the site. Will continue. Grace period ends.", nil, []string{"Mark", "Will", "Grace"}},
		{"Guilty Pleasures: 5 Musicians Of The 70s", nil, []string{"5 Musicians Of The 70s"}},
		{"The Czech Border Force have detained him.", nil, []string{"Border Force"}},
	}
	sc := MustNew(Options{})
	for _, tc := range tests {
		got := map[string]bool{}
		var all []string
		for _, f := range sc.Scan(tc.text, nil) {
			k := fmt.Sprintf("%s %s", f.Type, tc.text[f.Start:f.End])
			got[k] = true
			all = append(all, k)
		}
		for _, w := range tc.want {
			if !got[w] {
				t.Errorf("%q: want %q, got %q", tc.text, w, all)
			}
		}
		for _, no := range tc.none {
			for _, k := range all {
				if strings.Contains(k, no) {
					t.Errorf("%q: unexpected %q", tc.text, k)
				}
			}
		}
	}
}

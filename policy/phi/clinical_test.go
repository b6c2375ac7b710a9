package phi

import "testing"

// Ordinary clinical prose, lab values, vitals, doses and codes must not
// produce findings.
func TestClinicalTextHasNoFindings(t *testing.T) {
	notes := []string{
		"Patient Education: discussed diet. Patient Instructions given. Patient History reviewed.",
		"Labs: Na 140, K 4.1, Cl 102, HCO3 24, BUN 18, Cr 1.1, glucose 105 mg/dL, HbA1c 7.2%. WBC 11.2, Hgb 13.4, Plt 250.",
		"Vitals: BP 132/84, HR 88, RR 16, T 37.2 C, SpO2 97% on RA. Pain 7/10 on admission, 3/10 at discharge.",
		"ICD-10 E11.9, I10; CPT 99213. Metformin 1000 mg PO BID, lisinopril 10 mg daily, atorvastatin 40 mg qHS.",
		"Follow up in 2-3 weeks. Return precautions reviewed. Call 911 for chest pain.",
		"Mark the site. Max dose 4 g/day. Grace period of 30 days. Will continue current plan.",
		"The patient was seen in the Emergency Department and admitted to Internal Medicine.",
		"EKG at 10:30 showed QTc 450 ms. Echo EF 55-60%. CT head 2 mm. Dose 0.5-1 mg q4-6h PRN.",
		"Version 2.1.3 of the protocol.",
		"He walked 1200 steps, weight 82.5 kg, height 178 cm, BMI 26.0. Room 4012, bed 2.",
		// Title-case clinical terms are not names (cue-free name rule).
		"Referred to Physical Therapy. Continue Lipitor and Zoloft. Follow up with Endocrinology.",
		"Diagnosis: Type 2 Diabetes Mellitus with Diabetic Neuropathy. Started Ozempic 0.25 mg weekly.",
		"Hospital Course: admitted to the ICU for Septic Shock secondary to Klebsiella Pneumoniae.",
		"Plan discussed with Cardiology Fellow. Echo ordered. Holter Monitor for 48 hours.",
		"The Glasgow Coma Scale was 15. Apgar Score 9. Wells Score low. Murphy sign positive.",
		"Started Metformin Extended Release. Continue Atorvastatin. Stop Lisinopril.",
		"Chest X-Ray: Right Lower Lobe Consolidation. Blood Cultures pending. Urine Culture negative.",
	}
	for _, n := range notes {
		for _, f := range defaultScanner.Scan(n, nil) {
			t.Errorf("%s %.2f %q in %q", f.Type, f.Score, n[f.Start:f.End], n)
		}
	}
}

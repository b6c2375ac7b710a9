package phi

import (
	"strings"
	"testing"
	"time"
)

// Reproduce: go test -run XXX -bench . -benchtime 2s ./policy/phi/
// cpu-MB/s divides by the process CPU time instead of wall time; on a shared
// machine it is the closer estimate of single-core throughput.

const cleanClinical = `Assessment and plan: the patient is a pleasant adult who presents with intermittent chest pain
radiating to the left arm, worse with exertion and relieved by rest. Denies shortness of breath, nausea or
diaphoresis. Past medical history notable for hypertension and hyperlipidemia, managed with lisinopril and
atorvastatin. On examination the patient was alert and oriented, lungs clear to auscultation bilaterally,
heart with regular rate and rhythm without murmurs. Blood pressure 142/88, heart rate 76, temperature 36.8.
ECG showed normal sinus rhythm without acute changes. Troponin negative times two. Plan: stress test,
continue current medications, aspirin 81 mg daily, follow up in cardiology clinic in two weeks.
`

const denseIdentifiers = `Patient: John Smith, DOB 03/14/1951, SSN 078-05-1123, MRN: 00123456, phone (415) 555-0132,
email john.smith@example.org, card 4111 1111 1111 1111, NPI 1234567893, address 42 Elm Street, Springfield, IL 62704.
Seen by Dr. Maria Garcia on 2024-01-05 from 10.1.2.3; Medicare 1EG4-TE5-MK73; IBAN GB82 WEST 1234 5698 7654 32.
`

func benchScan(b *testing.B, text string) {
	s := MustNew(Options{})
	dst := make([]Finding, 0, 1024)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	c0 := processCPU()
	for b.Loop() {
		dst = s.Scan(text, dst[:0])
	}
	reportCPU(b, c0, len(text))
}

// reportCPU adds cpu-MB/s: bytes scanned per CPU-second of the process.
func reportCPU(b *testing.B, c0 time.Duration, size int) {
	if cpu := processCPU() - c0; cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds()/1e6, "cpu-MB/s")
	}
}

func BenchmarkScanClean(b *testing.B) { benchScan(b, strings.Repeat(cleanClinical, 64)) }
func BenchmarkScanDense(b *testing.B) { benchScan(b, strings.Repeat(denseIdentifiers, 64)) }
func BenchmarkScanShort(b *testing.B) {
	benchScan(b, "What is the dosage of amoxicillin for a 5 year old with otitis media?")
}
func BenchmarkScanUnicode(b *testing.B) {
	benchScan(b, strings.Repeat("Le patient présente une douleur thoracique; téléphone ０７８－０５－１１２３. ", 200))
}

func BenchmarkStream(b *testing.B) {
	s := MustNew(Options{})
	text := strings.Repeat(cleanClinical+denseIdentifiers, 8)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		z := s.NewStream(0)
		for p := 0; p < len(text); p += 24 {
			z.Write(text[p:min(p+24, len(text))])
		}
		z.Flush()
	}
}

func BenchmarkRedact(b *testing.B) {
	s := MustNew(Options{})
	r, _ := NewRedactor(RedactorOptions{Default: Pseudonym, Key: testKey})
	text := strings.Repeat(denseIdentifiers, 8)
	fs := s.Scan(text, nil)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Redact(text, fs)
	}
}

package policy

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/wardhq/ward/policy/injection"
	"github.com/wardhq/ward/policy/phi"
	"github.com/wardhq/ward/policy/tokens"
)

// Reproduce: go test -run '^$' -bench . -benchtime 2000x ./policy/
// (numbers from a shared 2-core machine are noisy).

func promptBytes(in *Input) int64 {
	var n int
	for _, m := range in.Messages {
		n += len(m.Text)
	}
	return int64(n)
}

// BenchmarkInputAST measures building the input document for a 4 KB
// clinical prompt with findings.
func BenchmarkInputAST(b *testing.B) {
	in := clinicalInput(4096)
	b.SetBytes(promptBytes(in))
	b.ReportAllocs()
	for b.Loop() {
		_ = in.AST()
	}
}

// BenchmarkDecideClinical is a full decision (input AST, evaluation of the
// embedded clinical policy by the plan evaluator, decision decoding) on a
// 4 KB prompt with PHI findings. It reports p50/p99 latency from a sorted
// sample.
func BenchmarkDecideClinical(b *testing.B) {
	benchDecide(b, clinicalInput(4096))
}

// BenchmarkDecideClinicalResident is BenchmarkDecideClinical in a process
// that also holds what `ward serve` keeps resident next to the policy: the
// two tiktoken encodings, the PHI scanner and the injection detector,
// about 25 MB of live heap. The decision is identical; what changes is how
// often the garbage collector runs. GC starts a cycle when the heap has
// grown by GOGC% of the live heap, so with 3 MB live (the bare benchmark)
// it runs several times more often than in Ward's process, and its
// assists and write barriers land in the tail percentiles.
func BenchmarkDecideClinicalResident(b *testing.B) {
	resident := residentHeap(b)
	benchDecide(b, clinicalInput(4096))
	runtime.KeepAlive(resident)
}

// residentHeap loads what `ward serve` keeps live next to the policy.
func residentHeap(b *testing.B) []any {
	var resident []any
	for _, name := range []string{"o200k_base", "cl100k_base"} {
		enc, err := tokens.GetEncoding(name)
		if err != nil {
			b.Fatal(err)
		}
		resident = append(resident, enc)
	}
	sc, err := phi.New(phi.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return append(resident, sc, injection.Default())
}

// BenchmarkDecideClinicalTopdown is the same decision with OPA's topdown
// evaluator (policy.evaluator: topdown), for comparison with the plan
// evaluator BenchmarkDecideClinical uses.
func BenchmarkDecideClinicalTopdown(b *testing.B) {
	benchDecideWith(b, "", clinicalInput(4096), EvaluatorTopdown)
}

// BenchmarkDecideClinicalEntrypoint calls the profile's entrypoint
// directly, skipping the data.ward.decision dispatch (what a route profile
// configured with entrypoint data.ward.clinical.decision does).
func BenchmarkDecideClinicalEntrypoint(b *testing.B) {
	benchDecideAt(b, "data.ward.clinical.decision", clinicalInput(4096))
}

// BenchmarkDecideClinicalResponse covers the response phase with the
// patient-facing advice patterns.
func BenchmarkDecideClinicalResponse(b *testing.B) {
	in := clinicalInput(4096)
	in.Phase = PhaseResponse
	in.Identity.App = "patient-portal"
	text, _ := clinicalPrompt(2048)
	in.Output = &Output{Text: text}
	benchDecide(b, in)
}

func benchDecide(b *testing.B, in *Input) { benchDecideAt(b, "", in) }

func benchDecideAt(b *testing.B, ep string, in *Input) { benchDecideWith(b, ep, in, EvaluatorPlan) }

func benchDecideWith(b *testing.B, ep string, in *Input, evaluator string) {
	e := newEngine(b, Embedded(), Options{Timeout: time.Second, Entrypoints: entrypoints(ep), Evaluator: evaluator})
	ctx := context.Background()
	if d, err := e.Decide(ctx, ep, in); err != nil {
		b.Fatal(err)
	} else if in.Phase == PhaseRequest && len(d.Redact) == 0 {
		b.Fatalf("benchmark input does not exercise redaction: %+v", d)
	}
	b.SetBytes(promptBytes(in))
	measure(b, func() {
		if _, err := e.Decide(ctx, ep, in); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkCPUNoiseFloor measures a fixed, allocation-free CPU loop of
// about the length of a plan decision (cpu-p50 near 40 µs on the build
// machine) the way the decision benchmarks are measured. Its spread is
// what the machine adds to any computation of that length (timer
// interrupts, the hypervisor, the other core); a decision's cpu-p99 can
// only be read against it.
func BenchmarkCPUNoiseFloor(b *testing.B) {
	measure(b, func() { spin(32_000) })
}

var spinSink uint64

// spin is n steps of an allocation-free, register-only loop.
func spin(n int) {
	x := spinSink
	for i := range n {
		x = x*6364136223846793005 + uint64(i)
	}
	spinSink = x
}

// chaser walks a random cycle through 256 KB (about an L2 cache): an
// allocation-free loop that, unlike spin, depends on memory, as a
// decision does.
type chaser struct {
	next []int32
	at   int32
}

func newChaser() *chaser {
	n := 256 << 10 / 4
	perm := rand.New(rand.NewPCG(1, 2)).Perm(n)
	c := &chaser{next: make([]int32, n)}
	for i := range n {
		c.next[perm[i]] = int32(perm[(i+1)%n])
	}
	return c
}

func (c *chaser) chase(n int) {
	j := c.at
	for range n {
		j = c.next[j]
	}
	c.at = j
}

// BenchmarkDecideClinicalVsFloor alternates a decision in Ward's heap (as
// DecideClinicalResident) with two allocation-free loops sized to the
// decision's median — spin (registers only) and chase (memory) — and
// reports the three thread-CPU p99s from the same run. The machine's
// state drifts between runs (its medians move by up to 2×), so only
// floors measured alongside say how much of a decision's tail is its own.
func BenchmarkDecideClinicalVsFloor(b *testing.B) {
	resident := residentHeap(b)
	defer runtime.KeepAlive(resident)
	in := clinicalInput(4096)
	e := newEngine(b, Embedded(), Options{Timeout: time.Second})
	ctx := context.Background()
	decide := func() {
		if _, err := e.Decide(ctx, "", in); err != nil {
			b.Fatal(err)
		}
	}
	ch := newChaser()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	median := func(op func()) time.Duration {
		s := make([]time.Duration, 2000)
		for i := range s {
			t0 := threadCPU()
			op()
			s[i] = threadCPU() - t0
		}
		slices.Sort(s)
		return s[len(s)/2]
	}
	dec := median(decide)
	spinPer, chasePer := median(func() { spin(10_000) }), median(func() { ch.chase(10_000) })
	if dec <= 0 || spinPer <= 0 || chasePer <= 0 {
		b.Skip("thread CPU time is not available here")
	}
	spinSteps := int(10_000 * float64(dec) / float64(spinPer))
	chaseSteps := int(10_000 * float64(dec) / float64(chasePer))
	var d, sp, chs []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := threadCPU()
		decide()
		t1 := threadCPU()
		spin(spinSteps)
		t2 := threadCPU()
		ch.chase(chaseSteps)
		t3 := threadCPU()
		if len(d) < 1<<16 {
			d, sp, chs = append(d, t1-t0), append(sp, t2-t1), append(chs, t3-t2)
		}
	}
	for _, r := range []struct {
		s    []time.Duration
		name string
	}{{d, "cpu"}, {sp, "spin-cpu"}, {chs, "chase-cpu"}} {
		slices.Sort(r.s)
		b.ReportMetric(float64(r.s[len(r.s)/2].Nanoseconds()), r.name+"-p50-ns")
		b.ReportMetric(float64(r.s[len(r.s)*99/100].Nanoseconds()), r.name+"-p99-ns")
	}
}

// measure runs op in the benchmark loop and reports, besides ns/op and
// allocations, the process CPU per op and wall-clock and thread-CPU
// percentiles from a sorted sample.
func measure(b *testing.B, op func()) {
	lat := make([]time.Duration, 0, 1<<16)
	tcpu := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := cpuTime()
	for b.Loop() {
		start, t0 := time.Now(), threadCPU()
		op()
		if len(lat) < cap(lat) {
			tcpu = append(tcpu, threadCPU()-t0)
			lat = append(lat, time.Since(start))
		}
	}
	// Process CPU time per op (the op plus GC on every thread): less
	// distorted than wall time when the machine is oversubscribed.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if len(lat) == 0 {
		return
	}
	// Wall-clock percentiles, and the same for the op's own thread CPU
	// time (includes GC assists, not background GC workers).
	slices.Sort(lat)
	slices.Sort(tcpu)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	if tcpu[len(tcpu)-1] > 0 { // zero where threadCPU is not supported
		b.ReportMetric(float64(tcpu[len(tcpu)/2].Nanoseconds()), "cpu-p50-ns")
		b.ReportMetric(float64(tcpu[len(tcpu)*99/100].Nanoseconds()), "cpu-p99-ns")
	}
}

func entrypoints(ep string) []string {
	if ep == "" {
		return nil
	}
	return []string{ep}
}

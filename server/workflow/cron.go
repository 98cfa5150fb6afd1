package workflow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// cronFields are the five fields of a standard cron schedule with their ranges and names (the
// syntax the CronJob controller accepts, minus time zones).
var cronFields = []struct {
	name     string
	min, max int
	names    []string
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

var cronMacros = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// checkCron accepts five-field schedules ("*/5 * * * *", "0 3 * * mon-fri") and the @macros.
func checkCron(s string) error {
	for _, m := range cronMacros {
		if s == m {
			return nil
		}
	}
	fs := strings.Fields(s)
	if len(fs) != 5 {
		return fmt.Errorf("a schedule has 5 fields (minute hour day-of-month month day-of-week), not %d", len(fs))
	}
	for i, f := range fs {
		spec := cronFields[i]
		for _, part := range strings.Split(f, ",") {
			if err := checkCronPart(part, spec.min, spec.max, spec.names); err != nil {
				return fmt.Errorf("%s field %q: %w", spec.name, clip(f), err)
			}
		}
	}
	return nil
}

func checkCronPart(part string, lo, hi int, names []string) error {
	rng, step, hasStep := strings.Cut(part, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > hi {
			return errors.New("bad step")
		}
	}
	if rng == "*" || rng == "?" {
		return nil
	}
	a, b, isRange := strings.Cut(rng, "-")
	x, err := cronValue(a, lo, hi, names)
	if err != nil {
		return err
	}
	if !isRange {
		return nil
	}
	y, err := cronValue(b, lo, hi, names)
	if err != nil {
		return err
	}
	if y < x {
		return errors.New("a range runs upwards")
	}
	return nil
}

func cronValue(s string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return lo + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("want %d..%d", lo, hi)
	}
	return n, nil
}

package tui

import "github.com/charmbracelet/lipgloss"

// Styles are every look the terminal UI uses. Colours are adaptive and
// degrade with the terminal's profile (lipgloss picks it).
type Styles struct {
	Title     lipgloss.Style
	Header    lipgloss.Style
	Selected  lipgloss.Style
	Dim       lipgloss.Style
	Status2xx lipgloss.Style
	Status3xx lipgloss.Style
	Status4xx lipgloss.Style
	Status5xx lipgloss.Style
	StatusErr lipgloss.Style
	SigValid  lipgloss.Style
	SigBad    lipgloss.Style
	Connected lipgloss.Style
	Waiting   lipgloss.Style
	Offline   lipgloss.Style
	Message   lipgloss.Style
	Error     lipgloss.Style
	Tab       lipgloss.Style
	TabActive lipgloss.Style
	Label     lipgloss.Style
	JSONKey   lipgloss.Style
	JSONStr   lipgloss.Style
	JSONNum   lipgloss.Style
	JSONWord  lipgloss.Style
}

// DefaultStyles are the styles hooktap ships with.
func DefaultStyles() Styles {
	green := lipgloss.AdaptiveColor{Light: "#0a7d32", Dark: "#3fd07a"}
	yellow := lipgloss.AdaptiveColor{Light: "#9a6700", Dark: "#e3b341"}
	red := lipgloss.AdaptiveColor{Light: "#c0262d", Dark: "#ff6b6b"}
	cyan := lipgloss.AdaptiveColor{Light: "#0b6e99", Dark: "#56c2e6"}
	grey := lipgloss.AdaptiveColor{Light: "#6e7781", Dark: "#8b949e"}
	purple := lipgloss.AdaptiveColor{Light: "#8250df", Dark: "#c297ff"}
	return Styles{
		Title:     lipgloss.NewStyle().Bold(true).Foreground(purple),
		Header:    lipgloss.NewStyle().Bold(true).Foreground(grey),
		Selected:  lipgloss.NewStyle().Background(lipgloss.AdaptiveColor{Light: "#dbe9ff", Dark: "#263449"}).Bold(true),
		Dim:       lipgloss.NewStyle().Foreground(grey),
		Status2xx: lipgloss.NewStyle().Foreground(green),
		Status3xx: lipgloss.NewStyle().Foreground(cyan),
		Status4xx: lipgloss.NewStyle().Foreground(yellow),
		Status5xx: lipgloss.NewStyle().Foreground(red),
		StatusErr: lipgloss.NewStyle().Foreground(red).Bold(true),
		SigValid:  lipgloss.NewStyle().Foreground(green),
		SigBad:    lipgloss.NewStyle().Foreground(red).Bold(true),
		Connected: lipgloss.NewStyle().Foreground(green),
		Waiting:   lipgloss.NewStyle().Foreground(yellow),
		Offline:   lipgloss.NewStyle().Foreground(red),
		Message:   lipgloss.NewStyle().Foreground(cyan),
		Error:     lipgloss.NewStyle().Foreground(red),
		Tab:       lipgloss.NewStyle().Foreground(grey).Padding(0, 1),
		TabActive: lipgloss.NewStyle().Bold(true).Underline(true).Foreground(purple).Padding(0, 1),
		Label:     lipgloss.NewStyle().Bold(true),
		JSONKey:   lipgloss.NewStyle().Foreground(cyan),
		JSONStr:   lipgloss.NewStyle().Foreground(green),
		JSONNum:   lipgloss.NewStyle().Foreground(yellow),
		JSONWord:  lipgloss.NewStyle().Foreground(purple),
	}
}

package telegram

import (
	"context"
	"fmt"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"sportello/bot/locale"
)

// command is one entry of the bot's "/" menu: its name and the message id of
// its description. The names are the slash commands of
// locales/vocabulary.yaml, so the engine understands every one.
type command struct {
	Name string
	Desc string
}

// commands lists the "/" menu in a language, in the order shown.
func commands(lang string) []command {
	if lang == locale.English {
		return []command{
			{"start", "telegram.commands.start"},
			{"book", "telegram.commands.book"},
			{"appointments", "telegram.commands.appointments"},
			{"cancel", "telegram.commands.cancel"},
			{"operator", "telegram.commands.operator"},
			{"language", "telegram.commands.language"},
			{"help", "telegram.commands.help"},
		}
	}
	return []command{
		{"start", "telegram.commands.start"},
		{"prenota", "telegram.commands.book"},
		{"appuntamenti", "telegram.commands.appointments"},
		{"annulla", "telegram.commands.cancel"},
		{"operatore", "telegram.commands.operator"},
		{"lingua", "telegram.commands.language"},
		{"help", "telegram.commands.help"},
	}
}

// ownCommand reports whether name (without the slash) is in either menu.
func ownCommand(name string) bool {
	for _, lang := range locale.Languages() {
		for _, c := range commands(lang) {
			if c.Name == name {
				return true
			}
		}
	}
	return false
}

// setCommands registers the "/" menu: Italian as the default and for
// Italian-speaking users, English for English-speaking ones.
func setCommands(ctx context.Context, api *tgbot.Bot, cat *locale.Catalog) error {
	for _, target := range []struct{ code, lang string }{
		{"", locale.Italian},
		{"it", locale.Italian},
		{"en", locale.English},
	} {
		var list []models.BotCommand
		for _, c := range commands(target.lang) {
			list = append(list, models.BotCommand{Command: c.Name, Description: cat.Text(target.lang, c.Desc, nil)})
		}
		_, err := api.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{Commands: list, LanguageCode: target.code})
		if err != nil {
			return fmt.Errorf("telegram: setMyCommands %q: %w", target.code, err)
		}
	}
	return nil
}

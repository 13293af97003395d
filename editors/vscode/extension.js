// Starts `kexpr lsp` for Kalix model files. Everything the editor shows comes from the server:
// the same checker as `kexpr check`, so the editor and the command line never disagree.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("kalix");
  const args = [];
  const library = config.get("library");
  if (library) {
    args.push("--library", library);
  }
  args.push("lsp");
  const server = { command: config.get("kexprPath") || "kexpr", args };
  client = new LanguageClient(
    "kalix",
    "Kalix models",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "kalix" }, { scheme: "untitled", language: "kalix" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

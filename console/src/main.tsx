/** The console's entry: the navigation, the token prompt, and the page of the current `#/…` route. */

import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

import { onAuthRequired, setToken, token } from "./api.js";
import { ConnectionsPage } from "./pages/Connections.js";
import { DeliveriesPage } from "./pages/Deliveries.js";
import { ProvidersPage } from "./pages/Providers.js";
import { StatsPage } from "./pages/Stats.js";
import { SubscriptionEditorPage } from "./pages/SubscriptionEditor.js";
import { SubscriptionsPage } from "./pages/Subscriptions.js";
import "./style.css";
import { useRoute } from "./ui.js";

const PAGES = [
  ["providers", "Providers"],
  ["connections", "Connections"],
  ["subscriptions", "Subscriptions"],
  ["deliveries", "Deliveries"],
  ["stats", "Stats"],
] as const;

/** Asks for the API's token when a call was refused without a valid one. */
function TokenPrompt({ onDone }: { onDone(): void }) {
  const [value, setValue] = useState("");
  const had = !!token();
  return (
    <div className="overlay">
      <form
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="token-title"
        onSubmit={(e) => {
          e.preventDefault();
          setToken(value.trim());
          onDone();
        }}
      >
        <h2 id="token-title">This coordinator needs a token</h2>
        <p>{had ? "The token given was refused." : "Its API requires a bearer token (api.auth_token or [[api.tokens]])."} It is kept in this tab only.</p>
        <div className="field">
          <label htmlFor="token-input">API token</label>
          <input id="token-input" type="password" autoComplete="current-password" autoFocus required value={value} onChange={(e) => setValue(e.target.value)} />
        </div>
        <div className="buttons">
          <button type="submit" className="primary">
            Use token
          </button>
        </div>
      </form>
    </div>
  );
}

function Page({ route }: { route: string[] }) {
  const [page, a, b] = route;
  switch (page) {
    case "connections":
      return <ConnectionsPage />;
    case "subscriptions":
      if (a === "new") return <SubscriptionEditorPage id={undefined} providerId={b} />;
      if (a) return <SubscriptionEditorPage id={a} providerId={undefined} />;
      return <SubscriptionsPage />;
    case "deliveries":
      return <DeliveriesPage id={a} />;
    case "stats":
      return <StatsPage />;
    default:
      return <ProvidersPage id={page === "providers" ? a : undefined} />;
  }
}

function App() {
  const route = useRoute();
  const [needToken, setNeedToken] = useState(false);
  const [generation, setGeneration] = useState(0);
  useEffect(() => onAuthRequired(() => setNeedToken(true)), []);
  const current = route[0] ?? "providers";
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header>
        <span className="brand">Switchyard</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map(([id, label]) => (
              <li key={id}>
                <a href={`#/${id}`} aria-current={current === id ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {token() && (
          <button type="button" className="link" onClick={() => (setToken(""), setNeedToken(true))}>
            Forget token
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <Page key={`${generation}:${route.join("/")}`} route={route} />
      </main>
      {needToken && (
        <TokenPrompt
          onDone={() => {
            setNeedToken(false);
            setGeneration((g) => g + 1);
          }}
        />
      )}
    </>
  );
}

createRoot(document.getElementById("root")!).render(<App />);

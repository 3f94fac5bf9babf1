/** What the custom widgets of the schema form need to know beyond their own value. */
export interface FormCtx {
  /** The qualified provider id the config is for. */
  providerId: string;
  /** The saved connection the config uses ("" for none). */
  connectionId: string;
  /** Whether the provider has a connection schema (resolvers then need a connection). */
  needsConnection: boolean;
  /** The form's current values: the context of GetConnectionOptions. */
  values: Record<string, unknown>;
  /** Payload property paths of the chosen event types, offered in template editors. */
  payloadPaths: string[];
  /** Titles of the form's fields by name, for "choose … first" hints. */
  titles: Record<string, string>;
}

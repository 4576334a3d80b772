import type { Child } from 'hono/jsx'

/**
 * The list pages' shared markup: one filter form, one table and one pager, so a list page states only what it
 * lists (its filters, columns, cells and links) and the markup the browser tests and the CSS rely on stays the
 * same on every page.
 */

/** A GET form of filters kept in the URL; its fields are the children, the submit button comes last. */
export function FilterForm(props: {
  /** The form's accessible name; pages without one pass null. */
  label?: string | null
  action?: string
  submit?: string
  children?: Child
}) {
  return (
    <form
      method="get"
      action={props.action}
      class="filters"
      aria-label={props.label === undefined ? 'Filters' : (props.label ?? undefined)}
    >
      {props.children}
      <button type="submit">{props.submit ?? 'Apply'}</button>
    </form>
  )
}

/** A labelled select whose first option ("Any") means no filter. */
export function SelectFilter(props: {
  label: string
  name: string
  value: string | undefined
  options: readonly string[]
  any?: string
  /** How an option is shown; underscores become spaces unless told otherwise. */
  show?: (value: string) => string
}) {
  const show = props.show ?? ((v: string) => v.replaceAll('_', ' '))
  return (
    <label>
      {props.label}
      <select name={props.name}>
        <option value="" selected={!props.value}>
          {props.any ?? 'Any'}
        </option>
        {props.options.map((o) => (
          <option value={o} selected={o === props.value}>
            {show(o)}
          </option>
        ))}
      </select>
    </label>
  )
}

/** A labelled free-text filter. */
export function TextFilter(props: {
  label: string
  name: string
  value: string | undefined
  placeholder?: string
}) {
  return (
    <label>
      {props.label}
      <input type="text" name={props.name} value={props.value ?? ''} placeholder={props.placeholder} />
    </label>
  )
}

/**
 * A list table: a header row of column names and one row per item, or `empty` when there are no items (when
 * `empty` is given; without it an empty table is still drawn, headers only).
 */
export function DataTable<T>(props: {
  head: readonly string[]
  rows: readonly T[]
  row: (item: T, index: number) => Child
  empty?: Child
}) {
  if (!props.rows.length && props.empty !== undefined) return <>{props.empty}</>
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>{props.head.map((h) => (h ? <th>{h}</th> : <th />))}</tr>
        </thead>
        <tbody>{props.rows.map((item, i) => props.row(item, i))}</tbody>
      </table>
    </div>
  )
}

/**
 * Links to the newer and older pages of a list (either may be missing); nothing when there is neither, so a
 * one-page list shows no empty navigation.
 */
export function Pager(props: {
  newer?: string | undefined
  older?: string | undefined
  newerText?: string
  olderText?: string
}) {
  if (!props.newer && !props.older) return null
  return (
    <nav class="actions" aria-label="Pages">
      {props.newer ? <a href={props.newer}>{props.newerText ?? 'Newer'}</a> : null}
      {props.older ? (
        <a href={props.older} rel="next">
          {props.olderText ?? 'Older'}
        </a>
      ) : null}
    </nav>
  )
}

/** A form's primary button and the way back without saving. */
export function SaveCancel(props: { label: string; cancelHref: string }) {
  return (
    <div class="actions">
      <button type="submit" class="primary">
        {props.label}
      </button>
      <a class="button" href={props.cancelHref}>
        Cancel
      </a>
    </div>
  )
}

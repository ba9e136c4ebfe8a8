import { PassThrough, type Readable } from 'node:stream';
import ExcelJS from 'exceljs';
import { CST_OFFSET_MS } from '../geofence/geo/windows.ts';
import { csvTextStream } from './csv.ts';

/**
 * The reports' downloads (duty, coverage: issue 15 item 4) as CSV and Excel, streamed: rows come from an
 * async iterable the report computes one unit at a time, and each row is written out (an xlsx row is
 * committed to the zip stream) before the next is computed, so memory holds one unit's track and the
 * compressor's window, not the report. Headers are sent before the first row: a failure half-way ends
 * the download early (the error is logged), it cannot turn into a problem document any more.
 *
 * Columns are declared once per sheet and used by both formats. An `instant` column holds epoch ms: CSV
 * writes the number (as the JSON does), Excel a date cell in China Standard Time (the zone every rule and
 * report day is in; Excel dates have no zone), formatted yyyy-mm-dd hh:mm:ss. A `share` is 0..1 in both,
 * shown as a percentage in Excel.
 */

export type ColumnKind = 'text' | 'int' | 'number' | 'instant' | 'share';

export interface ReportColumn {
  key: string;
  kind: ColumnKind;
  /** Excel column width in characters */
  width?: number;
}

/** Columns written compactly, in order: `{ date: ['text', 12], fixes: 'int' }` (a width after the kind). */
export function reportColumns(
  spec: Record<string, ColumnKind | readonly [ColumnKind, number]>,
): ReportColumn[] {
  return Object.entries(spec).map(([key, c]) =>
    typeof c === 'string' ? { key, kind: c } : { key, kind: c[0], width: c[1] },
  );
}

export interface ReportSheet {
  name: string;
  columns: readonly ReportColumn[];
  rows: AsyncIterable<Record<string, unknown>>;
}

export const XLSX_MEDIA_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** RFC 4180 (api/csv.ts, csv-stringify): a header line, CRLF line ends; one sheet (a CSV has one table). */
export function csvStream(sheet: ReportSheet): Readable {
  return csvTextStream(
    sheet.columns.map((c) => c.key),
    sheet.rows,
  );
}

const EXCEL_FORMATS: Partial<Record<ColumnKind, string>> = {
  instant: 'yyyy-mm-dd hh:mm:ss',
  share: '0.0%',
};

function excelValue(kind: ColumnKind, value: unknown): ExcelJS.CellValue {
  if (value === undefined || value === null) return null;
  if (kind === 'instant' && typeof value === 'number') {
    // the local wall time as a zone-less Excel date
    return new Date(value + CST_OFFSET_MS);
  }
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  return Array.isArray(value) ? value.join(' ') : JSON.stringify(value);
}

/** Resolves when the stream drains, or closes (a client gone): never left waiting. */
function drainedOrClosed(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/**
 * An xlsx workbook with one worksheet per sheet, in order, written with exceljs's streaming writer
 * (WorkbookWriter: committed rows leave memory). `onError` gets a failure of the rows or the writer; the
 * stream is then destroyed.
 */
export function xlsxStream(sheets: readonly ReportSheet[], onError: (err: unknown) => void): Readable {
  const out = new PassThrough();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: out,
    useStyles: true,
    useSharedStrings: false,
  });
  workbook.creator = 'citywatch';
  (async () => {
    for (const sheet of sheets) {
      const ws = workbook.addWorksheet(sheet.name);
      ws.columns = sheet.columns.map((c) => ({
        header: c.key,
        key: c.key,
        width: c.width ?? (c.kind === 'instant' ? 20 : Math.max(10, c.key.length + 2)),
        ...(EXCEL_FORMATS[c.kind] ? { style: { numFmt: EXCEL_FORMATS[c.kind] } } : {}),
      }));
      ws.getRow(1).font = { bold: true };
      ws.getRow(1).commit();
      for await (const row of sheet.rows) {
        const cells: Record<string, ExcelJS.CellValue> = {};
        for (const c of sheet.columns) cells[c.key] = excelValue(c.kind, row[c.key]);
        ws.addRow(cells).commit();
        // a slow client: wait for the zip already written to leave before computing more rows
        if (out.writableNeedDrain) await drainedOrClosed(out);
        if (out.destroyed) return;
      }
      ws.commit();
    }
    await workbook.commit();
  })().catch((err: unknown) => {
    onError(err);
    out.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  return out;
}

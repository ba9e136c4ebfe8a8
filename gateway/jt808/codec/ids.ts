/** Message ids (JT/T 808-2013 §7, table 4 消息分类; 2019 the same ids). */
export const MSG = {
  /** 终端通用应答 terminal general reply */
  TERMINAL_REPLY: 0x0001,
  /** 终端心跳 heartbeat */
  HEARTBEAT: 0x0002,
  /** 终端注销 deregistration */
  DEREGISTER: 0x0003,
  /** 终端注册 registration */
  REGISTER: 0x0100,
  /** 终端鉴权 authentication */
  AUTHENTICATE: 0x0102,
  /** 位置信息汇报 location report */
  LOCATION: 0x0200,
  /** 位置信息查询应答 location query answer */
  LOCATION_ANSWER: 0x0201,
  /** 定位数据批量上传 batch location upload */
  LOCATION_BATCH: 0x0704,
  /** 平台通用应答 platform general reply */
  PLATFORM_REPLY: 0x8001,
  /** 终端注册应答 registration answer */
  REGISTER_ANSWER: 0x8100,
  /** 设置终端参数 set terminal parameters */
  SET_PARAMETERS: 0x8103,
  /** 位置信息查询 location query */
  QUERY_LOCATION: 0x8201,
  /** 文本信息下发 text message */
  TEXT: 0x8300,
  /** 设置多边形区域 set polygon area */
  SET_POLYGON: 0x8604,
  /** 设置路线 set route */
  SET_ROUTE: 0x8606,
} as const;

export const msgName = (id: number): string => `0x${id.toString(16).padStart(4, '0')}`;

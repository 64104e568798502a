# language: zh-CN
功能: 每件信访事项都能找到具体的人
  按属地管理、谁主管谁负责，决策表 routing.dmn 按内容分类、问题发生地、问题类别和被反映单位给出责任单位。
  对演示组织机构中的每个内容分类和每个问题发生地，登记员按建议的路径交办转送（不另选单位）后，
  “签收或提出异议”立即出现在责任单位一位具名承办人的待办中；市本级事项交市级主管部门，而不是市信访局。
  被反映单位是本县的乡镇（街道）时，交该乡镇（街道）办理。

  背景:
    假如 系统已初始化，时间是 "2026-03-02T09:00:00+08:00"
    并且 流程已部署

  场景大纲: 问题发生地为 "<问题发生地>" 的各类事项都交到有承办人的单位
    当 登记员在 "<问题发生地>" 按下表各登记一件信访事项，并按建议的路径交办转送
      | 内容分类 | 问题类别 | 被反映单位   | county_a        | county_b   | city        |
      | 劳动社保 | 拖欠工资 |              | handler         | handler_b  | c_hrss      |
      | 城乡建设 | 物业管理 |              | handler_housing | b_housing  | c_housing   |
      | 住房保障 | 保障性住房 |            | handler_housing | b_housing  | c_housing   |
      | 环境保护 | 噪声扰民 |              | a_env           | b_env      | c_env       |
      | 农村农业 | 惠农补贴 |              | a_agri          | b_agri     | c_agri      |
      | 教育卫健 | 入学招生 |              | a_edu           | b_edu      | c_edu       |
      | 教育卫健 | 医疗纠纷 |              | a_health        | b_health   | c_health    |
      | 政法综治 | 治安问题 |              | a_police        | b_police   | c_police    |
      | 政法综治 | 涉法涉诉 |              | a_court         | b_court    | c_court     |
      | 纪检监察 | 作风问题 |              | a_cdi           | b_cdi      | c_cdi       |
      | 其他     | 意见建议 |              | a_office        | b_office   | c_office    |
      | 城乡建设 | 市政设施 | 城关镇人民政府 | a_t1          | b_housing  | c_housing   |
      | 农村农业 | 宅基地   | 南坪街道办事处 | a_agri        | b_t2       | c_agri      |
    那么 每一件的 "签收或提出异议" 都在表中该地承办人的待办中，办理单位是他所在的单位
    并且 这些承办人都不是系统管理员

    例子:
      | 问题发生地 |
      | county_a   |
      | county_b   |
      | city       |
